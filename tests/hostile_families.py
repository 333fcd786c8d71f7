"""The hostile families of tests/hostile_corpus.py: how each payload the collector must dead-letter, and each
message the broker must refuse, is built, with the piece of the verdict it must get.

A builder takes the corpus's station stream (``_Station``: its topics, clock, random ids and marked bodies)
and returns the topic and payload; the tables map each family's name to its builder and expected reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.hostile_corpus import _Station

MAX_PAYLOAD = 16 * 1024  # docs/PROTOCOL.md, "Limits"; the broker's message_size_limit too


def dumps(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _ts(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


_DROP = object()
Built = tuple[str, bytes, bool]  # topic, payload, whether it names its seq the way the acknowledgement reads it


def _on(st: _Station, payload: bytes, *, claims: bool = True, kind: str = "rating") -> Built:
    return st.topic(f"event/{kind}"), payload, claims


def _swap(st: _Station, literal: bytes, field: str, **changes: object) -> bytes:
    """A marked body with ``field`` holding text json.dumps never writes (``1e400``, ``NaN``, ``"\\ud800"``)."""
    return dumps(st.marked(**{field: "@swap@"}, **changes)).replace(b'"@swap@"', literal, 1)


def _nested(depth: int) -> object:
    value: object = 1
    for level in range(depth):
        value = [value] if level % 2 else {"n": value}
    return value


def _marker(st: _Station) -> bytes:
    """The start of a payload that never decodes to a JSON object: a fresh id first, to tell its dead letter apart."""
    return b'{"id":"' + st.new_id().encode() + b'","x":'


def _truncated(st: _Station) -> Built:
    text = dumps(st.marked())
    return _on(st, text[: st.rng.randint(60, len(text) - 2)], claims=False)


def _not_utf8(st: _Station) -> Built:
    bad = st.rng.choice([b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"caf\xe9"])  # also an encoded surrogate
    return _on(st, _marker(st) + b'"' + bad + b'"}', claims=False)


def _deep(st: _Station) -> Built:
    """Brackets as deep as 16 KiB allows; stdlib json gives up at ~1,000, so the seq cannot be read either."""
    head = _marker(st)
    depth = (MAX_PAYLOAD - len(head) - 1) // 2
    return _on(st, head + b"[" * depth + b"]" * depth + b"}", claims=False)


def _surrogate_key(st: _Station) -> Built:
    return _on(st, dumps(st.marked(location="@key@")).replace(b'"location":"@key@"', b'"\\udfffk":"x"', 1))


def _duplicate_key(st: _Station) -> Built:
    return _on(st, dumps(st.marked()).replace(b'"kind":', b'"station":"x","kind":', 1))


def _visit_reversed(st: _Station) -> Built:
    body = st.marked("visit")
    body["arrived_at"], body["departed_at"] = body["departed_at"], body["arrived_at"]
    return _on(st, dumps(body), kind="visit")


def _health_body(st: _Station, **changes: object) -> bytes:
    body = {"v": 1, "id": st.new_id("h"), "station": st.station, "ts": _ts(st.past(24)), "version": "1.4.2",
            "uptime_s": 5.0}
    body.update(changes)
    return dumps({k: v for k, v in body.items() if v is not _DROP})


def _resolved(st: _Station, changes: dict[str, object]) -> dict[str, object]:
    """``changes`` with each callable value called with the station (for its clock, names and random ids)."""
    return {k: v(st) if callable(v) else v for k, v in changes.items()}


def _bad_health(**changes: object) -> Callable[[_Station], Built]:
    return lambda st: (st.topic("health"), _health_body(st, **_resolved(st, changes)), False)


def _bad_event(**changes: object) -> Callable[[_Station], Built]:
    """A marked rating with ``changes``."""
    return lambda st: _on(st, dumps(st.marked(**_resolved(st, changes))))


def _ago(**delta: float) -> Callable[[_Station], str]:
    return lambda st: _ts(st.now - timedelta(**delta))


# family -> (builder, a piece of the dead letter's reason)
DEAD_FAMILIES: dict[str, tuple[Callable[[_Station], Built], str]] = {
    "truncated JSON": (_truncated, "payload is not JSON"),
    "empty payload": (lambda st: _on(st, b"", claims=False), "payload is not JSON"),
    "JSON array": (lambda st: _on(st, b"[" + _marker(st) + b"1}]", claims=False),
                   "must be a JSON object, got an array"),
    "not UTF-8": (_not_utf8, "payload is not UTF-8"),
    "nested 33-300 deep": (lambda st: _on(st, dumps(st.marked(extra=_nested(st.rng.randint(32, 300))))),
                           "nested deeper than 32 levels"),
    "nested 8,000 deep": (_deep, "nested deeper than 32 levels"),
    "int beyond int64 (seq)": (lambda st: _on(st, dumps(st.marked(seq=2**63)), claims=False),
                               "outside the 64-bit range"),
    "int beyond int64 (unknown field)": (_bad_event(n=-(2**63) - 1), "outside the 64-bit range"),
    "int of 41 digits": (_bad_event(score=10**40), "outside the 64-bit range"),
    "1e400": (lambda st: _on(st, _swap(st, b"1e400", "value_x")), "beyond the 64-bit float range"),
    "-1e400 as score": (lambda st: _on(st, _swap(st, b"-1e400", "score")), "beyond the 64-bit float range"),
    "NaN": (lambda st: _on(st, _swap(st, b"NaN", "score")), "NaN is not valid JSON"),
    "lone surrogate in a value": (lambda st: _on(st, _swap(st, b'"\\ud800"', "location")), "lone surrogate U+D800"),
    "lone surrogate in a key": (_surrogate_key, "lone surrogate U+DFFF"),
    "duplicate keys": (_duplicate_key, "duplicate key 'station'"),
    "wrong station in payload": (_bad_event(station=lambda st: st.other), "does not match the topic's station"),
    "kind mismatch": (lambda st: _on(st, dumps(st.marked()), kind="cleaning"), "does not match the topic's kind"),
    "unknown kind in payload": (_bad_event(kind="refuel"), "payload kind 'refuel' does not match"),
    "missing v": (_bad_event(v=_DROP), "missing field 'v'"),
    "v 2": (_bad_event(v=2), "unknown major version 2"),
    "v 1.0": (_bad_event(v=1.0), "field 'v' must be an integer"),
    "missing id": (_bad_event(id=_DROP, note=lambda st: st.new_id()), "missing field 'id'"),
    "ts 0001-01-01": (_bad_event(ts="0001-01-01T00:00:00.000Z"), "0001-01-01T00:00:00.000Z is outside 1970-01-01"),
    "ts 9999-12-31": (_bad_event(ts="9999-12-31T23:59:59.999Z"), "9999-12-31T23:59:59.999Z is outside 1970-01-01"),
    "ts 2999 (far future)": (_bad_event(ts="2999-12-31T23:59:59.999Z"), "more than 24 h in the future"),
    "ts 3 days ahead": (_bad_event(ts=_ago(days=-3)), "more than 24 h in the future"),
    "ts 401 days old": (_bad_event(ts=_ago(days=401)), "more than 400 days in the past"),
    "ts not RFC 3339": (_bad_event(ts=lambda st: st.rng.choice(
        ["2026-11-23T12:00:00Z", "2026-11-23T12:00:00.000+01:00", "yesterday", "2026-02-30T00:00:00.000Z"])),
                        "field 'ts'"),
    "string score": (_bad_event(score="3"), "field 'score'"),
    "score above scale": (_bad_event(score=5, scale=3), "above the scale of 3"),
    "field of 5,000 characters": (_bad_event(kiosk="k" * 5000), "at most 64 characters"),
    "visit out of order": (_visit_reversed, "arrived_at <= stopped_at <= departed_at"),
    "health incomplete": (_bad_health(version=_DROP, uptime_s=_DROP), "health: missing field 'version'"),
    "health of another station": (_bad_health(station=lambda st: st.other), "does not match the topic's station"),
    "health 401 days old": (_bad_health(ts=_ago(days=401)), "more than 400 days in the past"),
    "status of an unknown state": (
        lambda st: (st.topic("status"), dumps({"state": "sleepy", "note": st.new_id()}), False),
        "status: field 'state'"),
    "online status without its birth fields": (
        lambda st: (st.topic("status"), dumps({"state": "online", "note": st.new_id()}), False),
        "an online status carries version"),
}


def _elsewhere(topic: str, payload: Callable[[_Station], bytes] = lambda st: dumps(st.marked())):
    return lambda st: (topic.format(st=st.station, other=st.other), payload(st))


# family -> (builder, the broker's PUBACK reason). Topics the station's role does not list are refused whatever
# they carry: the look-alikes of real topics, the downlink, another station's or another protocol's root.
# Payloads over 16 KiB are not among them: see :func:`oversize`.
BROKER_FAMILIES: dict[str, tuple[Callable[[_Station], tuple[str, bytes]], str]] = {
    "event/status": (_elsewhere("forecourt/v1/{st}/event/status"), "Not authorized"),
    "health/status": (_elsewhere("forecourt/v1/{st}/health/status", _health_body), "Not authorized"),
    "event/Rating": (_elsewhere("forecourt/v1/{st}/event/Rating"), "Not authorized"),
    "event/rating/x": (_elsewhere("forecourt/v1/{st}/event/rating/x"), "Not authorized"),
    "event/ (no kind)": (_elsewhere("forecourt/v1/{st}/event/"), "Not authorized"),
    "event/refuel (unknown kind)": (_elsewhere("forecourt/v1/{st}/event/refuel"), "Not authorized"),
    "status/x": (_elsewhere("forecourt/v1/{st}/status/x", lambda st: b'{"state":"offline"}'), "Not authorized"),
    "own ack": (_elsewhere("forecourt/v1/{st}/ack", lambda st: b'{"v":1,"stored":[[1,999999]]}'), "Not authorized"),
    "own config": (_elsewhere("forecourt/v1/{st}/config", lambda st: b'{"v":1}'), "Not authorized"),
    "another station's topic": (_elsewhere("forecourt/v1/{other}/event/rating"), "Not authorized"),
    "forecourt/v2 root": (_elsewhere("forecourt/v2/{st}/event/rating"), "Not authorized"),
}
