"""Protocol v1 payloads as frozen pydantic models: one class per event kind, plus status and health.

Unknown fields are ignored so that a newer station adding a field stays readable by an older
collector (additive changes keep ``v`` = 1); a breaking change bumps ``v``.
"""

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from forecourt.protocol.topics import STATION_ID, Topic

VERSION = 1
_TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def format_ts(when: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, e.g. ``2026-11-23T11:34:00.123Z``."""
    if when.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def format_epoch(seconds: float) -> str:
    """Epoch seconds -> protocol timestamp (what the edge's clocks give -> what the wire carries)."""
    return format_ts(datetime.fromtimestamp(seconds, UTC))


def parse_ts(text: str) -> datetime:
    if not isinstance(text, str) or not _TS.fullmatch(text):
        raise ValueError(f"{text!r} is not an RFC 3339 UTC time with milliseconds like 2026-11-23T11:34:00.123Z")
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _check_ts(text: str) -> str:
    parse_ts(text)
    return text


def new_id() -> str:
    return uuid.uuid4().hex


Timestamp = Annotated[str, AfterValidator(_check_ts), Field(description="RFC 3339 UTC with milliseconds")]
StationId = Annotated[str, Field(pattern=STATION_ID.pattern, description="Station id")]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", strict=True)


class Event(Message):
    """Fields every event carries; subclasses add their kind's fields."""

    KIND: ClassVar[str] = ""
    v: Literal[1] = Field(VERSION, description="Schema major version")
    id: Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = Field(
        description="Globally unique, stable across retries"
    )
    seq: Annotated[int, Field(ge=1)] = Field(description="Per-station counter, +1 per event, survives restarts")
    station: StationId
    ts: Timestamp = Field(description="When it happened")
    kind: str = Field(description="Event kind; equals the topic's last level")

    @model_validator(mode="after")
    def _kind_matches_class(self) -> "Event":
        if self.KIND and self.kind != self.KIND:
            raise ValueError(f"kind {self.kind!r} does not match {self.KIND!r}")
        return self

    @property
    def topic(self) -> str:
        return str(Topic(self.station, "event", self.kind))


class Rating(Event):
    KIND: ClassVar[str] = "rating"
    kind: Literal["rating"] = "rating"
    kiosk: Name = Field(description="Kiosk id from the station config")
    location: str | None = Field(None, description="Where the kiosk stands: restroom, shop, forecourt, ...")
    score: Annotated[int, Field(ge=1, le=5)] = Field(description="1..scale, higher is happier")
    scale: Literal[3, 4, 5] = Field(description="Number of smiley buttons")
    reason: Name | None = Field(None, description="Reason button pressed after a low score")

    @model_validator(mode="after")
    def _score_within_scale(self) -> "Rating":
        if self.score > self.scale:
            raise ValueError(f"score {self.score} is above the scale of {self.scale}")
        return self


class Cleaning(Event):
    KIND: ClassVar[str] = "cleaning"
    kind: Literal["cleaning"] = "cleaning"
    restroom: Name = Field(description="Restroom id from the station config")
    flag: str | None = Field(None, description="Why this check-in cannot be a real cleaning (kept, not dropped)")
    since_last_s: Seconds | None = Field(None, description="Seconds since the previous counted check-in")


class Visit(Event):
    KIND: ClassVar[str] = "visit"
    kind: Literal["visit"] = "visit"
    bay: Name = Field(description="Pump bay zone id")
    arrived_at: Timestamp
    stopped_at: Timestamp
    greeted_at: Timestamp | None = Field(None, description="When an attendant reached the stopped car")
    departed_at: Timestamp
    greet_s: Seconds | None = Field(None, description="greeted_at - stopped_at")
    dwell_s: Seconds = Field(description="departed_at - arrived_at (throughput time)")
    merged_gaps: Annotated[int, Field(ge=0)] = Field(0, description="Disappearances/ID switches merged into it")
    occluded_s: Seconds = Field(0.0, description="Seconds the vehicle was not seen during the visit")
    min_fps: Seconds | None = Field(None, description="Lowest analysis rate seen during the visit")

    @model_validator(mode="after")
    def _times_in_order(self) -> "Visit":
        arrived, stopped, departed = (parse_ts(t) for t in (self.arrived_at, self.stopped_at, self.departed_at))
        if not arrived <= stopped <= departed:
            raise ValueError("arrived_at <= stopped_at <= departed_at must hold")
        if (self.greeted_at is None) != (self.greet_s is None):
            raise ValueError("greeted_at and greet_s are both set or both null")
        return self


class Alert(Event):
    KIND: ClassVar[str] = "alert"
    kind: Literal["alert"] = "alert"
    alert: Name = Field(description="What is wrong: restroom_overdue, kiosk_button_stuck, outbox_full, ...")
    state: Literal["open", "cleared"] = Field(description="open when it starts, cleared when it is over")
    subject: Name | None = Field(None, description="The restroom, kiosk, camera ... it concerns")
    message: str = Field("", max_length=500, description="For people")
    value: float | None = Field(None, description="The measure behind it, e.g. seconds overdue")


class ZoneDwell(Event):
    KIND: ClassVar[str] = "zone"
    kind: Literal["zone"] = "zone"
    zone: Name
    object_class: Name = Field(description="person, car, truck, ...")
    track_id: Annotated[int, Field(ge=0)]
    entered_at: Timestamp
    exited_at: Timestamp
    dwell_s: Seconds


EVENT_KINDS: dict[str, type[Event]] = {cls.KIND: cls for cls in (Rating, Cleaning, Visit, Alert, ZoneDwell)}


class Status(Message):
    """Retained on ``.../status``: the birth message, or the last will ``{"state":"offline"}``."""

    state: Literal["online", "offline"]
    version: str | None = Field(None, description="Software version")
    config_hash: str | None = Field(None, description="Hash of the running station config")
    started_at: Timestamp | None = None

    @model_validator(mode="after")
    def _birth_is_complete(self) -> "Status":
        if self.state == "online" and None in (self.version, self.config_hash, self.started_at):
            raise ValueError("an online status carries version, config_hash and started_at")
        return self


class Health(Message):
    """Periodic station health on ``.../health``. Not part of the event ``seq``: it may be thinned."""

    v: Literal[1] = VERSION
    id: Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    station: StationId
    ts: Timestamp
    version: str
    uptime_s: Seconds
    outbox_depth: Annotated[int, Field(ge=0)] = Field(0, description="Rows HQ has not acknowledged storing")
    oldest_undelivered_s: Seconds | None = Field(None, description="Age of the oldest row HQ has not acknowledged")
    published: Annotated[int, Field(ge=0)] = Field(0, description="Outbox rows the broker PUBACKed since start")
    confirmed: Annotated[int, Field(ge=0)] = Field(0, description="Outbox rows HQ acknowledged storing since start")
    awaiting_ack: Annotated[int, Field(ge=0)] = Field(0, description="Rows sent on this connection that HQ has not acknowledged yet")
    resent: Annotated[int, Field(ge=0)] = Field(0, description="Rows sent again since start because HQ had not acknowledged them in time")
    rejected_by_hq: Annotated[int, Field(ge=0)] = Field(0, description="Events HQ refused for good (dead letters), since install")
    reconnects: Annotated[int, Field(ge=0)] = 0
    dropped: Annotated[int, Field(ge=0)] = Field(0, description="Events the full outbox could not keep")
    filtered_presses: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="Kiosk presses inside the response interval, per kiosk, since start"
    )
    camera_fps: Seconds | None = None
    camera_ok: bool | None = None
    frames_skipped: Annotated[int, Field(ge=0)] | None = None
    cpu_temp_c: float | None = None
    rss_mb: Seconds | None = None
    extra: dict[str, Any] = Field(default_factory=dict, description="Subsystem counters not named above")
