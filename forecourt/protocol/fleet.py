"""What HQ may set on a station, the desired document it sends, and the state a station reports back.

HQ keeps layered settings (chain, region, station) and sends each station one full document on its
retained ``config`` topic; the station applies only a ``rev`` above the one it has applied and reports
on its retained ``config_state`` topic (docs/PROTOCOL.md, "Fleet configuration").

A setting is a dotted key and a JSON scalar:

- ``<section>.<field>``: every item of the section (``restrooms.interval_min = 60``: every restroom);
- ``<section>.<id>.<field>``: one item (``restrooms.gents.interval_min = 30``), over the section-wide value;
- ``log_level``.

The rules below are the only fields HQ may set, and the station's own config models inherit them, so a
value is checked by the same field definition at HQ (when it is set) and on the Pi (when it is applied).
Never credentials, pins, addresses or files: those stay in the station's file.
"""

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from forecourt.errors import ProtocolError
from forecourt.protocol.messages import VERSION, Message, Timestamp, Version, _require
from forecourt.settings import Section

_HOURS = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def parse_active_hours(text: str) -> tuple[int, int]:
    """``'06:00-22:00'`` -> minutes after local midnight (360, 1320); the end may be 24:00 or wrap."""
    match = _HOURS.fullmatch(text)
    if match:
        h1, m1, h2, m2 = map(int, match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 < 24 and m1 < 60 and m2 < 60 and end <= 24 * 60 and start != end:
            return start, end
    raise ValueError(f"{text!r} is not 'HH:MM-HH:MM' with two different times (e.g. '06:00-22:00')")


class RestroomRules(Section):
    """How a restroom's cleaning is judged: the part of a restroom's config HQ may set."""

    interval_min: float = Field(
        60.0, gt=0, le=7 * 24 * 60, description="Minutes of active hours between cleanings before it is overdue"
    )
    active_hours: str = Field("00:00-24:00", description="Local hours in which the interval applies, 'HH:MM-HH:MM'; may wrap midnight")
    min_gap_min: float = Field(
        5.0, ge=0, description="A check-in sooner than this after the last counted one is flagged too_soon: no time to clean"
    )
    catch_up_min: float | None = Field(
        None, ge=0,
        description="A check-in sooner than this after the last counted one is flagged catch_up, not a cleaning (a run "
        "of check-ins entered at the end of a shift); empty = half of interval_min, 0 = never",
    )
    burst_count: int = Field(
        3, ge=2, le=100, description="This many presses within burst_window_s are a burst: flagged, never a cleaning"
    )
    burst_window_s: float = Field(60.0, gt=0, le=3600, description="Window in which burst_count presses make a burst")

    @field_validator("active_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_active_hours(value)
        return value

    @model_validator(mode="after")
    def _catch_up_within_the_interval(self) -> "RestroomRules":
        if self.catch_up_min is not None and self.catch_up_min >= self.interval_min:
            raise ValueError(
                f"catch_up_min: {self.catch_up_min:g} would flag every cleaning on time (interval_min is {self.interval_min:g})"
            )
        return self

    @property
    def catch_up_s(self) -> float:
        return 60 * (self.interval_min / 2 if self.catch_up_min is None else self.catch_up_min)


class KioskRules(Section):
    """How a kiosk's presses become ratings: the part of a kiosk's config HQ may set."""

    low_scores: int = Field(2, ge=1, le=4, description="Scores up to this one may take a reason")
    reason_window_s: float = Field(6.0, gt=0, le=60, description="Seconds after a low score in which a reason counts")
    response_interval_s: float = Field(
        4.0, ge=0, le=60,
        description="A score press this soon after the previous one (counted or not) is the same person again: "
        "filtered, so a burst of presses is one rating and one 'burst' record",
    )
    hold_limit_s: float = Field(
        3.0, gt=0, le=60,
        description="A score press held down longer than this is no rating (a lean, a bag, a shorted wire): filtered as 'held'",
    )
    simultaneous_s: float = Field(
        0.1, ge=0, le=1,
        description="Score buttons going down within this many seconds of each other are ambiguous: the first is the "
        "rating, flagged 'simultaneous'; the others are filtered",
    )
    stuck_after_s: float = Field(10.0, gt=0, description="A button held this long is reported stuck")
    thank_you_s: float = Field(2.0, ge=0, le=60, description="Seconds the thank-you LED stays lit after a counted rating")


class ZoneRules(Section):
    """How a zone or pump bay times what it sees: the part of a zone's config HQ may set."""

    confirm_s: float = Field(1.0, ge=0, description="Seconds inside (or outside) before entering (leaving) counts")
    roll_up_s: float = Field(3.0, gt=0, description="Pump bays: seconds a vehicle must stay still to count as stopped")
    roll_off_s: float = Field(
        10.0, ge=0, description="Pump bays: a vehicle lost from view (or re-identified) in the bay within this many seconds continues the same visit"
    )
    merge_window_s: float = Field(
        5.0, ge=0, le=60,
        description="Pump bays: a vehicle that leaves the bay and is back in it within this many seconds (a roll-off and "
        "back) continues the same visit, as drive-thru timers merge; a visit is reported this long after it leaves",
    )
    stop_motion: float = Field(
        0.1, gt=0, le=1, description="Pump bays: largest drift of a stopped vehicle's bottom-centre, as a share of its box height"
    )
    greet_confirm_s: float = Field(
        2.0, ge=0, description="Pump bays: seconds a person must stay in the service area to count as the attendant (passers-by do not)"
    )
    greet_goal_s: float = Field(60.0, gt=0, description="Pump bays: target seconds from stop to greeting, for reports")
    uniform_colour: str | None = Field(
        None, pattern=r"^#[0-9A-Fa-f]{6}$", description="Pump bays: staff uniform colour '#RRGGBB'; if set, only people wearing it can greet"
    )
    uniform_tolerance: float = Field(
        60.0, gt=0, le=442, description="Pump bays: largest RGB distance (0-442) of a torso's mean colour from the uniform colour"
    )


# The sections HQ may set, each a list of items with an ``id`` in the station's config.
SECTIONS: dict[str, type[Section]] = {"restrooms": RestroomRules, "kiosks": KioskRules, "zones": ZoneRules}
TOP_LEVEL: dict[str, tuple[str, ...]] = {"log_level": LOG_LEVELS}
_ITEM_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
Scalar = str | int | float | bool | None


class SettingKey(NamedTuple):
    section: str | None  # None: a top-level key such as log_level
    item: str | None  # None: every item of the section
    field: str

    def __str__(self) -> str:
        return ".".join(part for part in (self.section, self.item, self.field) if part is not None)


def parse_key(key: str) -> SettingKey:
    """``restrooms.gents.interval_min`` -> its parts; :class:`ProtocolError` naming what may be set otherwise."""
    if key in TOP_LEVEL:
        return SettingKey(None, None, key)
    parts = key.split(".") if isinstance(key, str) else []
    if len(parts) in (2, 3) and parts[0] in SECTIONS:
        section, field = parts[0], parts[-1]
        item = parts[1] if len(parts) == 3 else None
        if item is not None and (not _ITEM_ID.fullmatch(item) or item in SECTIONS[section].model_fields):
            raise ProtocolError(f"{key}: {item!r} is not a {section[:-1]} id (ids are letters, digits and _.:-)")
        if field in SECTIONS[section].model_fields:
            return SettingKey(section, item, field)
        raise ProtocolError(f"{key}: unknown setting {field!r} (settable in {section}: {', '.join(SECTIONS[section].model_fields)})")
    raise ProtocolError(
        f"{key}: unknown key (settable: {', '.join(TOP_LEVEL)}, "
        + ", ".join(f"{name}[.<id>].<field>" for name in SECTIONS) + ")"
    )


def check_setting(key: str, value: Any) -> Scalar:
    """The value if ``key`` may be set to it, judged by the field's own definition (range, pattern, type);
    :class:`ProtocolError` with the key path otherwise. Rules that tie two fields together (a catch-up
    shorter than the interval) are judged by the station, which knows the other value."""
    where = parse_key(key)
    if isinstance(value, dict | list):
        raise ProtocolError(f"{key}: must be a single value, not {type(value).__name__}")
    if where.section is None:
        allowed = TOP_LEVEL[where.field]
        if value not in allowed:
            raise ProtocolError(f"{key}: {value!r} is not one of {', '.join(allowed)}")
        return value
    try:
        SECTIONS[where.section].model_validate({where.field: value})
    except ValidationError as err:
        own = [e for e in err.errors(include_url=False) if tuple(e["loc"]) == (where.field,)]
        if own:
            raise ProtocolError(f"{key}: {own[0]['msg'].removeprefix('Value error, ')}") from None
    return value


class SettingError(Message):
    path: str = Field(description="The setting's key, e.g. restrooms.gents.interval_min")
    message: str = Field(max_length=500)


def setting_errors(settings: Mapping[str, Any]) -> list[SettingError]:
    """Every key of ``settings`` that may not be set to its value, in key order."""
    errors = []
    for key in sorted(settings):
        try:
            check_setting(key, settings[key])
        except ProtocolError as err:
            errors.append(SettingError(path=str(key)[:200], message=str(err)[:500]))
    return errors


def settings_hash(settings: Mapping[str, Any]) -> str:
    """sha256 of the settings as canonical JSON (sorted keys, compact): equal documents, equal hashes."""
    text = json.dumps(dict(settings), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


Rev = Annotated[int, Field(ge=1, le=2**63 - 1)]


class ConfigDocument(Message):
    """Retained on ``.../config`` (collector -> station): the full desired settings of one station."""

    model_config = ConfigDict(json_schema_extra=_require("v"))
    v: Version = Field(VERSION, description="Schema major version")
    rev: Rev = Field(description="Increases by one with every change to this station's settings; never reused")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="settings_hash(settings)")
    issued_at: Timestamp = Field(description="When HQ built this revision")
    settings: dict[str, Scalar] = Field(description="Every setting HQ holds for this station (keys as in forecourt.protocol.fleet)")

    @model_validator(mode="after")
    def _hash_matches(self) -> "ConfigDocument":
        if settings_hash(self.settings) != self.hash:
            raise ValueError("hash does not match the settings (a damaged or hand-edited document)")
        return self


class ConfigState(Message):
    """Retained on ``.../config_state`` (station -> collector): what the station did with a document."""

    model_config = ConfigDict(json_schema_extra=_require("v"))
    v: Version = Field(VERSION, description="Schema major version")
    rev: Rev = Field(description="The document this state is about")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="Its hash, as received")
    state: Literal["applied", "rejected"] = Field(description="applied: in effect now; rejected: nothing changed")
    errors: list[SettingError] = Field(default_factory=list, max_length=100, description="Why it was rejected, by key")
    applied_rev: int = Field(0, ge=0, description="The revision in effect after this (0: none, the file's settings only)")
    restart_needed: list[str] = Field(
        default_factory=list, max_length=100, description="Applied settings that take effect only after a restart"
    )
    at: Timestamp = Field(description="When the station applied or rejected it")
