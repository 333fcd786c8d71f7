"""encode/decode: the only way bytes become messages and back. Pure: no I/O, time is passed in."""

import json
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from forecourt.errors import ProtocolError
from forecourt.protocol.messages import EVENT_KINDS, VERSION, Event, Health, Message, Status, parse_ts
from forecourt.protocol.topics import DOWNLINK, Topic, parse_topic

MAX_PAYLOAD_BYTES = 16 * 1024
MAX_CLOCK_SKEW = timedelta(hours=24)


def encode(message: Message, station: str | None = None) -> tuple[str, bytes]:
    """The topic and compact UTF-8 JSON for a message (``station`` is needed only for a Status)."""
    if isinstance(message, Event):
        topic = message.topic
    elif isinstance(message, Health):
        topic = str(Topic(message.station, "health"))
    elif isinstance(message, Status):
        if station is None:
            raise ValueError("encoding a Status needs the station id")
        topic = str(Topic(parse_topic(f"forecourt/v1/{station}/status").station, "status"))
    else:
        raise TypeError(f"cannot encode {type(message).__name__}")
    payload = message.model_dump(mode="json", exclude_none=isinstance(message, Status))
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"{topic}: encoded payload is {len(data)} bytes; the limit is {MAX_PAYLOAD_BYTES}")
    return topic, data


def decode(topic: str, payload: bytes, *, now: datetime) -> Message:
    """Validate and parse one MQTT message; :class:`ProtocolError` says exactly what is wrong."""
    where = parse_topic(topic)
    body = _json_object(payload)
    if where.channel == "status":
        return _validate(Status, body)
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
    _check_not_future(message.ts, now)  # type: ignore[attr-defined]
    return message


def _json_object(payload: bytes) -> dict[str, Any]:
    if not isinstance(payload, bytes | bytearray):
        raise ProtocolError(f"payload must be bytes, got {type(payload).__name__}")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"payload is {len(payload)} bytes; the limit is {MAX_PAYLOAD_BYTES}")
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProtocolError(f"payload is not UTF-8: byte 0x{payload[err.start]:02x} at offset {err.start}") from None
    try:
        body = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise ProtocolError(f"payload is not JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    except ValueError as err:
        raise ProtocolError(f"payload is not JSON: {err}") from None
    if not isinstance(body, dict):
        raise ProtocolError(f"payload must be a JSON object, got {_json_type(body)}")
    return body


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


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


def _check_not_future(ts: str, now: datetime) -> None:
    when = parse_ts(ts)
    if when - now > MAX_CLOCK_SKEW:
        raise ProtocolError(f"ts {ts} is more than 24 h in the future (now {now.isoformat()})")
