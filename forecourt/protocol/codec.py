"""encode/decode: the only way bytes become messages and back. Pure: no I/O, time is passed in.

Whatever bytes arrive, :func:`decode` returns a valid message or raises :class:`ProtocolError`; and what
it accepts, the collector can store: the limits below are checked on the whole JSON document, unknown
fields included, because the collector keeps the payload as sent (docs/PROTOCOL.md, "Limits").
A 100,000-payload property test (tests/test_protocol_fuzz.py) holds it to that.
"""

import functools
import json
import math
import re
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from forecourt.errors import ProtocolError
from forecourt.protocol.fleet import ConfigDocument, ConfigState
from forecourt.protocol.messages import (
    EVENT_KINDS,
    INT64_MAX,
    INT64_MIN,
    VERSION,
    Event,
    Health,
    Message,
    Status,
    format_ts,
)
from forecourt.protocol.topics import DOWNLINK, Topic, check_station_id, parse_topic

MAX_PAYLOAD_BYTES = 16 * 1024
MAX_CLOCK_SKEW = timedelta(hours=24)
# How old an event or health sample may be: a station's outbox keeps what it could not send, and a
# station a year offline (a closed season, a broken router nobody visits) must still be heard.
MAX_AGE = timedelta(days=400)
# Objects and arrays nested deeper than this are refused before parsing: no message nests deeper than
# 3, and json.loads recurses per level, so without a fixed limit the caller's stack decides (~1000).
MAX_DEPTH = 32
_INT_DIGITS = len(str(INT64_MIN))  # 20 characters: '-9223372036854775808'
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


class _Refused(Exception):
    """A well-formed JSON document beyond the protocol's limits (raised from json.loads' hooks)."""


def encode(message: Message, station: str | None = None) -> tuple[str, bytes]:
    """The topic and compact UTF-8 JSON for a message (``station`` is needed only for a Status)."""
    if isinstance(message, Event):
        topic = message.topic
    elif isinstance(message, Health):
        topic = str(Topic(message.station, "health"))
    elif isinstance(message, Status | ConfigDocument | ConfigState):
        if station is None:
            raise ValueError(f"encoding a {type(message).__name__} needs the station id")
        channel = {Status: "status", ConfigDocument: "config", ConfigState: "config_state"}[type(message)]
        topic = str(Topic(check_station_id(station), channel))  # type: ignore[arg-type]
    else:
        raise TypeError(f"cannot encode {type(message).__name__}")
    payload = message.model_dump(mode="json", exclude_none=isinstance(message, Status))
    try:
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (ValueError, UnicodeEncodeError) as err:  # inf/NaN or a lone surrogate in a free-form field
        raise ProtocolError(f"{topic}: cannot encode: {err}") from None
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"{topic}: encoded payload is {len(data)} bytes; the limit is {MAX_PAYLOAD_BYTES}")
    try:  # what a station sends must be what the collector accepts: the same limits (depth, int64, ...)
        _json_object(data)
    except ProtocolError as err:
        raise ProtocolError(f"{topic}: encoded {err}") from None
    return topic, data


def decode(topic: str, payload: bytes, *, now: datetime) -> Message:
    """Validate and parse one MQTT message; :class:`ProtocolError` says exactly what is wrong."""
    where = _parse_topic(topic)
    body = _json_object(payload)
    if where.channel == "status":
        return _validate(Status, body)
    if where.channel == "config_state":
        _check_version(body)
        return _validate(ConfigState, body)
    if where.channel in DOWNLINK:
        raise ProtocolError(f"the {where.channel} channel is cloud -> edge; stations may not publish on it")
    _check_version(body)
    _check_station(body, where.station)
    if where.channel == "health":
        message: Message = _validate(Health, body)
    else:
        kind = body.get("kind")
        if kind != where.kind:
            raise ProtocolError(f"payload kind {kind!r} does not match the topic's kind {where.kind!r}")
        cls = EVENT_KINDS.get(where.kind or "")
        if cls is None:
            raise ProtocolError(f"unknown event kind {where.kind!r} (known: {', '.join(sorted(EVENT_KINDS))})")
        message = _validate(cls, body)
    _check_window(message.ts, now)  # type: ignore[attr-defined]
    return message


def decode_config(topic: str, payload: bytes) -> ConfigDocument:
    """A station's desired settings as HQ sent them on its ``config`` topic; :class:`ProtocolError` if
    the document is malformed (whether each setting may be applied is the station's to judge)."""
    if parse_topic(topic).channel != "config":
        raise ProtocolError(f"{topic}: not a config topic")
    body = _json_object(payload)
    _check_version(body)
    return _validate(ConfigDocument, body)  # type: ignore[return-value]


@functools.lru_cache(maxsize=16_384)  # a fleet's topics repeat; a bad topic raises each time (exceptions are not cached)
def _parse_topic(topic: str) -> Topic:
    return parse_topic(topic)


def _json_object(payload: bytes) -> dict[str, Any]:
    if not isinstance(payload, bytes | bytearray):
        raise ProtocolError(f"payload must be bytes, got {type(payload).__name__}")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"payload is {len(payload)} bytes; the limit is {MAX_PAYLOAD_BYTES}")
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProtocolError(f"payload is not UTF-8: byte 0x{payload[err.start]:02x} at offset {err.start}") from None
    _check_depth(text)
    try:
        if text.startswith("\ufeff"):  # what json.loads checks before it decodes
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        body = _DECODER.decode(text)
    except _Refused as err:
        raise ProtocolError(f"payload refused: {err}") from None
    except json.JSONDecodeError as err:
        raise ProtocolError(f"payload is not JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    except ValueError as err:
        raise ProtocolError(f"payload is not JSON: {err}") from None
    except RecursionError:  # not reachable below MAX_DEPTH; kept so no stack can make it escape
        raise ProtocolError(f"payload refused: nested deeper than {MAX_DEPTH} levels") from None
    if not isinstance(body, dict):
        raise ProtocolError(f"payload must be a JSON object, got {_json_type(body)}")
    if _SURROGATE_ESCAPE.search(text):  # the only way a lone surrogate gets in: valid UTF-8 cannot carry one
        _check_scalar_values(body, "")
    return body


def _check_depth(text: str) -> None:
    """Refuse nesting beyond MAX_DEPTH before json.loads recurses into it; brackets in strings do not count."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return  # cannot be deeper: the common case costs two counts
    depth = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ProtocolError(f"payload refused: nested deeper than {MAX_DEPTH} levels")
        else:
            depth -= 1


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _int64(text: str) -> int:
    value = int(text) if len(text) <= _INT_DIGITS else None
    if value is None or not INT64_MIN <= value <= INT64_MAX:
        raise _Refused(f"integer {_clip(text)} is outside the 64-bit range {INT64_MIN} .. {INT64_MAX}")
    return value


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {_clip(text)} is beyond the 64-bit float range")
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse duplicate keys: json.loads keeps the last, a JavaScript reader too, another reader the first."""
    body = dict(pairs)
    if len(body) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"duplicate key {key!r}")
            seen.add(key)
    return body


# What json.loads builds from these hooks, built once: json.loads builds it again on every call (~1 µs, 5 % of a decode).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_int=_int64, parse_float=_finite, object_pairs_hook=_object)


def _check_scalar_values(value: Any, path: str) -> None:
    """Every string, keys included, must be Unicode scalar values: a lone surrogate cannot become UTF-8
    (SQLite, the API's responses), so it would break whatever reads the stored payload later."""
    if isinstance(value, str):
        _check_text(value, f"field {path!r}")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, f"a key in {repr(path) if path else 'the payload'}")
            _check_scalar_values(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_scalar_values(item, f"{path}[{index}]")


def _check_text(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ProtocolError(
            f"payload refused: {what} holds a lone surrogate U+{ord(text[err.start]):04X} (not a Unicode character)"
        ) from None


def _clip(text: str, chars: int = 40) -> str:
    return text if len(text) <= chars else f"{text[:chars]}... ({len(text)} characters)"


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _check_version(body: dict[str, Any]) -> None:
    if "v" not in body:
        raise ProtocolError("missing field 'v' (schema version)")
    version = body["v"]
    if type(version) is not int:
        raise ProtocolError(f"field 'v' must be an integer, got {_json_type(version)}")
    if version != VERSION:
        raise ProtocolError(f"unknown major version {version} (this side speaks {VERSION})")


def _check_station(body: dict[str, Any], station: str) -> None:
    if "station" not in body:
        raise ProtocolError("missing field 'station'")
    if body["station"] != station:
        raise ProtocolError(f"payload station {body['station']!r} does not match the topic's station {station!r}")


def _validate(cls: type[Message], body: dict[str, Any]) -> Message:
    try:
        return cls.model_validate(body)
    except ValidationError as err:
        raise ProtocolError(f"{cls.__name__.lower()}: {describe(err)}") from None


def describe(err: ValidationError) -> str:
    """Pydantic errors as one readable line: ``field 'score': Input should be ...; ...``."""
    parts = []
    for item in err.errors(include_url=False):
        path = ".".join(str(p) for p in item["loc"])
        msg = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            parts.append(f"missing field '{path}'")
        elif path:
            parts.append(f"field '{path}': {msg}")
        else:
            parts.append(msg)
    return "; ".join(parts)


def _check_window(ts: str, now: datetime) -> None:
    latest, earliest = _window(now)
    if ts > latest:
        raise ProtocolError(f"ts {ts} is more than 24 h in the future (now {now.isoformat()})")
    if ts < earliest:
        raise ProtocolError(f"ts {ts} is more than {MAX_AGE.days} days in the past (now {now.isoformat()})")


@functools.lru_cache(maxsize=4)  # a batch is decoded with one ``now``
def _window(now: datetime) -> tuple[str, str]:
    """The latest and earliest ts accepted at ``now``, as text: a validated ts has one fixed-width format, so
    comparing the text compares the times. Its milliseconds are whole: ``ts > now + skew`` holds exactly when
    ts is later than that bound rounded down to the millisecond, ``ts < now - age`` when ts is earlier than
    that bound rounded up."""
    earliest = now - MAX_AGE
    if earliest.microsecond % 1000:
        earliest += timedelta(microseconds=1000 - earliest.microsecond % 1000)
    return format_ts(now + MAX_CLOCK_SKEW), format_ts(earliest)
