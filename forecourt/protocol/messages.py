"""Protocol v1 payloads as frozen pydantic models: one class per event kind, plus status and health.

Unknown fields are ignored so that a newer station adding a field stays readable by an older
collector (additive changes keep ``v`` = 1); a breaking change bumps ``v``.
"""

import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from forecourt.protocol.topics import STATION_ID, Topic

VERSION = 1
_TS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
# SQLite's INTEGER is a signed 64-bit number: an integer beyond it can be decoded but never stored.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Every timestamp field lies in [TS_MIN, TS_MAX): far enough from datetime's years 1 and 9999 that the
# collector's arithmetic on them (a week back, a month ahead) cannot overflow, and never before the epoch.
TS_MIN = datetime(1970, 1, 1, tzinfo=UTC)
TS_MAX = datetime(3000, 1, 1, tzinfo=UTC)


def format_ts(when: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, e.g. ``2026-11-23T11:34:00.123Z``."""
    if when.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    when = when.astimezone(UTC)
    # Not strftime's %Y: it does not pad years before 1000 ('1-01-01'), which a poison hour's bucket can be.
    return f"{when.year:04d}-" + when.strftime("%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def format_epoch(seconds: float) -> str:
    """Epoch seconds -> protocol timestamp (what the edge's clocks give -> what the wire carries)."""
    return format_ts(datetime.fromtimestamp(seconds, UTC))


def parse_ts(text: str) -> datetime:
    if not isinstance(text, str) or not _TS.fullmatch(text):
        raise ValueError(f"{text!r} is not an RFC 3339 UTC time with milliseconds like 2026-11-23T11:34:00.123Z")
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _check_ts(text: str) -> str:
    parse_ts(text)  # the format, and a day and time that exist
    # Then the bounds as text: in this one fixed-width format, comparing the text compares the times.
    if not _TS_MIN_TEXT <= text < _TS_MAX_TEXT:
        raise ValueError(f"{text} is outside {_TS_MIN_TEXT} .. {_TS_MAX_TEXT} (exclusive)")
    return text


def _exact_int(value: Any) -> Any:
    """Strict mode still lets ``5.0`` and ``True`` through a ``Literal[3, 4, 5]`` (they compare equal)."""
    if type(value) is not int:
        raise ValueError("Input should be an integer")
    return value


def _require(*names: str) -> Any:
    """A JSON Schema hook listing fields as required that have a default for constructing in Python
    (``v``, ``kind``) but that a payload must carry, as :func:`forecourt.protocol.decode` demands."""

    def hook(schema: dict[str, Any]) -> None:
        required = set(schema.get("required", ())) | set(names)
        schema["required"] = [name for name in schema["properties"] if name in required]

    return hook


_TS_MIN_TEXT, _TS_MAX_TEXT = format_ts(TS_MIN), format_ts(TS_MAX)


def new_id() -> str:
    return uuid.uuid4().hex


Timestamp = Annotated[
    str, AfterValidator(_check_ts),
    Field(description="RFC 3339 UTC with milliseconds", json_schema_extra={"pattern": f"^{_TS.pattern}$"}),
]
StationId = Annotated[str, Field(pattern=f"^{STATION_ID.pattern}$", description="Station id")]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
Version = Annotated[Literal[1], BeforeValidator(_exact_int)]


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", strict=True)


class Event(Message):
    """Fields every event carries; subclasses add their kind's fields."""

    model_config = ConfigDict(json_schema_extra=_require("v", "kind"))
    KIND: ClassVar[str] = ""
    v: Version = Field(VERSION, description="Schema major version")
    id: Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = Field(
        description="Globally unique, stable across retries"
    )
    seq: Annotated[int, Field(ge=1, le=INT64_MAX)] = Field(description="Per-station counter, +1 per event, survives restarts")
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


class EventBody(Message):
    """What one kind of event says, without the envelope (``id``, ``seq``, ``station``, ``ts``) that the
    station's outbox adds: the edge's logic drafts these, and each kind's event class is its body plus
    :class:`Event`, so a field is declared once and checked at the moment it is drafted."""

    KIND: ClassVar[str] = ""


class RatingBody(EventBody):
    KIND: ClassVar[str] = "rating"
    kiosk: Name = Field(description="Kiosk id from the station config")
    location: str | None = Field(None, description="Where the kiosk stands: restroom, shop, forecourt, ...")
    score: Annotated[int, Field(ge=1, le=5)] = Field(description="1..scale, higher is happier")
    scale: Annotated[Literal[3, 4, 5], BeforeValidator(_exact_int)] = Field(description="Number of smiley buttons")
    reason: Name | None = Field(None, description="Reason button pressed after a low score")
    flag: Name | None = Field(
        None, description="Why the rating is doubtful (kept, not dropped): simultaneous = another score button went "
        "down within the kiosk's simultaneous_s, the first one pressed is the score"
    )

    @model_validator(mode="after")
    def _score_within_scale(self) -> "RatingBody":
        if self.score > self.scale:
            raise ValueError(f"score {self.score} is above the scale of {self.scale}")
        return self


class CleaningFlag(StrEnum):
    """Why a check-in cannot be a real cleaning, listed once (the wire takes any text)."""

    TOO_SOON = "too_soon"  # sooner than min_gap_min after the last counted one: no time to clean
    CATCH_UP = "catch_up"  # sooner than catch_up_min after the last counted one: a run of check-ins at shift end
    BURST = "burst"  # the burst_count-th press within burst_window_s: a button being mashed


class CleaningBody(EventBody):
    KIND: ClassVar[str] = "cleaning"
    restroom: Name = Field(description="Restroom id from the station config")
    flag: str | None = Field(
        None, description=f"Why this check-in cannot be a real cleaning (kept, not dropped): {', '.join(CleaningFlag)}"
    )
    since_last_s: Seconds | None = Field(None, description="Seconds since the previous counted check-in")
    active_since_last_s: Seconds | None = Field(
        None, description="Seconds of the restroom's active (open) hours since the previous counted check-in: "
        "the gap a cleaning schedule is judged by, without the hours it was closed"
    )


class VisitBody(EventBody):
    KIND: ClassVar[str] = "visit"
    bay: Name = Field(description="Pump bay zone id")
    arrived_at: Timestamp
    stopped_at: Timestamp
    greeted_at: Timestamp | None = Field(None, description="When an attendant reached the stopped car")
    departed_at: Timestamp
    greet_s: Seconds | None = Field(None, description="greeted_at - stopped_at")
    dwell_s: Seconds = Field(description="departed_at - arrived_at (throughput time)")
    merged_gaps: Count = Field(
        0, description="Disappearances, ID switches and roll-offs (out of the bay and back) merged into it"
    )
    occluded_s: Seconds = Field(0.0, description="Seconds the vehicle was not seen during the visit")
    min_fps: Seconds | None = Field(
        None, description="Lowest analysis rate over any 10 s of the visit (over the whole visit when shorter): "
        "frames analysed / seconds, so an isolated dropped frame barely moves it and a stall shows"
    )

    @model_validator(mode="after")
    def _times_in_order(self) -> "VisitBody":
        if not self.arrived_at <= self.stopped_at <= self.departed_at:  # validated timestamps: text order is time order
            raise ValueError("arrived_at <= stopped_at <= departed_at must hold")
        if (self.greeted_at is None) != (self.greet_s is None):
            raise ValueError("greeted_at and greet_s are both set or both null")
        return self


class StationAlert(StrEnum):
    """The alerts a station raises, listed once. The wire takes any :data:`Name` so that a newer station's
    new alert still reaches an older collector; the collector's own rules are ``cloud.rules.Rule``."""

    RESTROOM_OVERDUE = "restroom_overdue"
    KIOSK_BUTTON_STUCK = "kiosk_button_stuck"
    OUTBOX_FULL = "outbox_full"


class PressFilter(StrEnum):
    """Why kiosk presses are not ratings, listed once. The wire takes any :data:`Name` (a newer station's
    new reason still reaches an older collector)."""

    BURST = "burst"  # more score presses from the same person, each within the response interval of the last
    HELD = "held"  # down longer than the kiosk's hold limit, released before it counted as stuck
    STUCK = "stuck"  # down for the kiosk's stuck_after_s: a jammed key or a shorted wire (its alert opens too)
    SIMULTANEOUS = "simultaneous"  # another score button within simultaneous_s of the one that is the rating


class FilteredPressesBody(EventBody):
    KIND: ClassVar[str] = "filtered_presses"
    kiosk: Name = Field(description="Kiosk id from the station config")
    location: str | None = Field(None, description="Where the kiosk stands: restroom, shop, forecourt, ...")
    reason: Name = Field(description=f"Why they are not ratings: {', '.join(PressFilter)}, ...")
    presses: Annotated[int, Field(ge=1, le=INT64_MAX)] = Field(description="Score presses it covers, none of them a rating")
    span_s: Seconds = Field(0.0, description="Seconds from the first press it covers (the event's ts) to the last")


class AlertBody(EventBody):
    KIND: ClassVar[str] = "alert"
    alert: Name = Field(description=f"What is wrong: {', '.join(StationAlert)}, ...")
    state: Literal["open", "cleared"] = Field(description="open when it starts, cleared when it is over")
    subject: Name | None = Field(None, description="The restroom, kiosk, camera ... it concerns")
    message: str = Field("", max_length=500, description="For people")
    value: Finite | None = Field(None, description="The measure behind it, e.g. seconds overdue")


class ZoneDwellBody(EventBody):
    KIND: ClassVar[str] = "zone"
    zone: Name
    object_class: Name = Field(description="person, car, truck, ...")
    track_id: Count
    entered_at: Timestamp
    exited_at: Timestamp
    dwell_s: Seconds


# Each kind's event: its body after the envelope (field order = wire order), ``kind`` pinned to the body's KIND.


class Rating(RatingBody, Event):
    kind: Literal["rating"] = "rating"


class Cleaning(CleaningBody, Event):
    kind: Literal["cleaning"] = "cleaning"


class Visit(VisitBody, Event):
    kind: Literal["visit"] = "visit"


class Alert(AlertBody, Event):
    kind: Literal["alert"] = "alert"


class ZoneDwell(ZoneDwellBody, Event):
    kind: Literal["zone"] = "zone"


class FilteredPresses(FilteredPressesBody, Event):
    kind: Literal["filtered_presses"] = "filtered_presses"


# The event kinds, listed once: topics, decoding, the edge's drafts and the collector's rollups read them here.
EVENT_KINDS: dict[str, type[Event]] = {
    cls.KIND: cls for cls in (Rating, Cleaning, Visit, Alert, ZoneDwell, FilteredPresses)
}
BODIES: dict[type[EventBody], type[Event]] = {
    body: cls for cls in EVENT_KINDS.values() for body in cls.__mro__ if body.__dict__.get("KIND") == cls.KIND
}
BODY_KINDS: dict[str, type[EventBody]] = {cls.KIND: body for body, cls in BODIES.items()}


def event_from(body: EventBody, **envelope: Any) -> Event:
    """The event a drafted body becomes once the outbox gives it ``id``, ``seq``, ``station`` and ``ts``."""
    return BODIES[type(body)].model_validate({**envelope, **dict(body), "kind": body.KIND})


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

    model_config = ConfigDict(json_schema_extra=_require("v"))
    v: Version = VERSION
    id: Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    station: StationId
    ts: Timestamp
    version: str
    uptime_s: Seconds
    outbox_depth: Count = Field(0, description="Rows HQ has not acknowledged storing")
    oldest_undelivered_s: Seconds | None = Field(None, description="Age of the oldest row HQ has not acknowledged")
    published: Count = Field(0, description="Outbox rows the broker PUBACKed since start")
    confirmed: Count = Field(0, description="Outbox rows HQ acknowledged storing since start")
    awaiting_ack: Count = Field(0, description="Rows sent on this connection that HQ has not acknowledged yet")
    resent: Count = Field(0, description="Rows sent again since start because HQ had not acknowledged them in time")
    rejected_by_hq: Count = Field(0, description="Events HQ refused for good (dead letters), since install")
    reconnects: Count = 0
    dropped: Count = Field(0, description="Events the full outbox could not keep")
    filtered_presses: dict[str, Count] = Field(
        default_factory=dict,
        description="Kiosk score presses that were not ratings (any PressFilter reason), per kiosk, since start",
    )
    camera_fps: Seconds | None = None
    camera_ok: bool | None = None
    frames_skipped: Count | None = None
    cpu_temp_c: Finite | None = None
    rss_mb: Seconds | None = None
    extra: dict[str, Any] = Field(default_factory=dict, description="Subsystem counters not named above")
