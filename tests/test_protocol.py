"""Protocol v1 table tests: every way a payload can be wrong has a precise reason; round trips hold."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from forecourt.errors import ProtocolError
from forecourt.protocol import (
    Alert,
    Cleaning,
    Health,
    Rating,
    Status,
    Visit,
    ZoneDwell,
    decode,
    encode,
    event_topic,
    format_ts,
    parse_topic,
    status_topic,
)

NOW = datetime(2026, 11, 23, 12, 0, 0, 123000, tzinfo=UTC)
TS = format_ts(NOW)
RATING_TOPIC = "forecourt/v1/s-1/event/rating"


def rating(**changes) -> bytes:
    body = {"v": 1, "id": "0123456789abcdef", "seq": 7, "station": "s-1", "ts": TS, "kind": "rating",
            "kiosk": "shop", "score": 2, "scale": 5}
    body.update(changes)
    return json.dumps({k: v for k, v in body.items() if v is not DROP}).encode()


DROP = object()


def _body(defaults: dict, changes: dict) -> bytes:
    body = {"v": 1, "id": "0123456789abcdef", "seq": 1, "station": "s-1", "ts": TS, **defaults, **changes}
    return json.dumps({k: v for k, v in body.items() if v is not DROP}).encode()


def alert(**changes) -> bytes:
    return _body({"kind": "alert", "alert": "restroom_overdue", "state": "open"}, changes)


def zone(**changes) -> bytes:
    return _body({"kind": "zone", "zone": "road", "object_class": "car", "track_id": 4, "entered_at": TS,
                  "exited_at": TS, "dwell_s": 0.0}, changes)


def visit(**changes) -> bytes:
    return _body({"kind": "visit", "bay": "b1", "arrived_at": TS, "stopped_at": TS, "departed_at": TS,
                  "dwell_s": 1.0}, changes)


def health(**changes) -> bytes:
    body = {"v": 1, "id": "0123456789abcdef", "station": "s-1", "ts": TS, "version": "1", "uptime_s": 1.0, **changes}
    return json.dumps(body).encode()

REJECTED = [
    # (case, topic, payload, words the reason must contain)
    ("too large", RATING_TOPIC, rating(reason="x" * 17000), "limit is 16384"),
    ("not utf-8", RATING_TOPIC, b'{"v":1,"kiosk":"\xff"}', "not UTF-8"),
    ("not json", RATING_TOPIC, b"{v:1}", "not JSON"),
    ("empty", RATING_TOPIC, b"", "not JSON"),
    ("NaN constant", RATING_TOPIC, rating(score=float("nan")), "NaN is not valid JSON"),
    ("array", RATING_TOPIC, b"[1,2]", "JSON object, got an array"),
    ("string", RATING_TOPIC, b'"hi"', "JSON object, got a string"),
    ("null", RATING_TOPIC, b"null", "JSON object, got null"),
    ("missing v", RATING_TOPIC, rating(v=DROP), "missing field 'v'"),
    ("v as string", RATING_TOPIC, rating(v="1"), "'v' must be an integer"),
    ("v as bool", RATING_TOPIC, rating(v=True), "'v' must be an integer"),
    ("unknown major", RATING_TOPIC, rating(v=2), "unknown major version 2"),
    ("missing station", RATING_TOPIC, rating(station=DROP), "missing field 'station'"),
    ("station differs", RATING_TOPIC, rating(station="s-2"), "does not match the topic's station 's-1'"),
    ("kind differs", RATING_TOPIC, rating(kind="cleaning"), "does not match the topic's kind 'rating'"),
    ("unknown kind", "forecourt/v1/s-1/event/tip", rating(kind="tip"), "unknown event kind 'tip'"),
    ("missing id", RATING_TOPIC, rating(id=DROP), "missing field 'id'"),
    ("short id", RATING_TOPIC, rating(id="abc"), "field 'id'"),
    ("seq zero", RATING_TOPIC, rating(seq=0), "field 'seq'"),
    ("seq as string", RATING_TOPIC, rating(seq="7"), "field 'seq'"),
    ("missing ts", RATING_TOPIC, rating(ts=DROP), "missing field 'ts'"),
    ("ts without ms", RATING_TOPIC, rating(ts="2026-11-23T12:00:00Z"), "field 'ts'"),
    ("ts local time", RATING_TOPIC, rating(ts="2026-11-23T12:00:00.000+01:00"), "field 'ts'"),
    ("ts far future", RATING_TOPIC, rating(ts=format_ts(NOW + timedelta(hours=25))), "more than 24 h in the future"),
    ("score above scale", RATING_TOPIC, rating(score=5, scale=3), "above the scale of 3"),
    ("score zero", RATING_TOPIC, rating(score=0), "field 'score'"),
    ("scale 6", RATING_TOPIC, rating(scale=6), "field 'scale'"),
    ("score float", RATING_TOPIC, rating(score=2.5), "field 'score'"),
    ("missing kiosk", RATING_TOPIC, rating(kiosk=DROP), "missing field 'kiosk'"),
    ("bad station in topic", "forecourt/v1/S_1/event/rating", rating(), "must match"),
    ("foreign root", "forecourt/v2/s-1/event/rating", rating(), "not under forecourt/v1"),
    ("unknown channel", "forecourt/v1/s-1/telemetry", rating(), "unknown channel 'telemetry'"),
    ("event without kind", "forecourt/v1/s-1/event", rating(), "ends in /event/<kind>"),
    ("config is cloud to edge", "forecourt/v1/s-1/config", b"{}", "stations may not publish"),
    ("visit out of order", "forecourt/v1/s-1/event/visit",
     json.dumps({"v": 1, "id": "0123456789abcdef", "seq": 1, "station": "s-1", "ts": TS, "kind": "visit", "bay": "b1",
                 "arrived_at": TS, "stopped_at": format_ts(NOW - timedelta(seconds=5)), "departed_at": TS,
                 "dwell_s": 1.0}).encode(), "arrived_at <= stopped_at <= departed_at"),
    ("greet without time", "forecourt/v1/s-1/event/visit",
     json.dumps({"v": 1, "id": "0123456789abcdef", "seq": 1, "station": "s-1", "ts": TS, "kind": "visit", "bay": "b1",
                 "arrived_at": TS, "stopped_at": TS, "departed_at": TS, "dwell_s": 1.0, "greet_s": 3.0}).encode(),
     "both set or both null"),
    ("alert bad state", "forecourt/v1/s-1/event/alert",
     json.dumps({"v": 1, "id": "0123456789abcdef", "seq": 1, "station": "s-1", "ts": TS, "kind": "alert",
                 "alert": "restroom_overdue", "state": "maybe"}).encode(), "field 'state'"),
    ("online status incomplete", "forecourt/v1/s-1/status", b'{"state":"online"}', "carries version"),
    ("status unknown state", "forecourt/v1/s-1/status", b'{"state":"asleep"}', "field 'state'"),
    ("health wrong station", "forecourt/v1/s-1/health",
     json.dumps({"v": 1, "id": "0123456789abcdef", "station": "s-9", "ts": TS, "version": "1", "uptime_s": 1}).encode(),
     "does not match the topic's station"),
    ("health negative uptime", "forecourt/v1/s-1/health",
     json.dumps({"v": 1, "id": "0123456789abcdef", "station": "s-1", "ts": TS, "version": "1", "uptime_s": -1}).encode(),
     "field 'uptime_s'"),
    # Limits (docs/PROTOCOL.md, "Limits"): whatever decode accepts, the collector can store and serve.
    ("nested 1000 deep", RATING_TOPIC, b"[" * 1000 + b"]" * 1000, "nested deeper than 32 levels"),
    ("nested 33 deep in a field", RATING_TOPIC, rating(extra=json.loads("[" * 33 + "]" * 33)), "deeper than 32"),
    ("seq beyond int64", RATING_TOPIC, rating(seq=2**63), "outside the 64-bit range"),
    ("huge int in an unknown field", RATING_TOPIC, rating(colour=-(2**63) - 1), "outside the 64-bit range"),
    ("5,000-digit int", RATING_TOPIC, rating()[:-1] + b',"x":' + b"9" * 5000 + b"}", "(5000 characters)"),
    ("float overflows to inf", "forecourt/v1/s-1/event/alert",
     alert(value=1.5).replace(b"1.5", b"1e400"), "number 1e400 is beyond the 64-bit float range"),
    ("negative inf in health", "forecourt/v1/s-1/health", health(cpu_temp_c=1.5).replace(b"1.5", b"-1e999"),
     "beyond the 64-bit float range"),
    ("lone surrogate", RATING_TOPIC, rating(location="\ud800"), "field 'location' holds a lone surrogate U+D800"),
    ("lone surrogate in a key", RATING_TOPIC, rating(extra={"\udfff": 1}), "a key in 'extra' holds a lone surrogate"),
    ("lone surrogate in an array", "forecourt/v1/s-1/health", health(extra={"log": ["ok", "\udc80"]}),
     "field 'extra.log[1]'"),
    ("duplicate key", RATING_TOPIC, rating()[:-1] + b',"score":5}', "duplicate key 'score'"),
    ("duplicate key nested", RATING_TOPIC, rating(extra={"a": 1})[:-2] + b',"a":2}}', "duplicate key 'a'"),
    ("scale as float", RATING_TOPIC, rating(scale=5.0), "field 'scale': Input should be an integer"),
    ("scale as bool", RATING_TOPIC, rating(scale=True), "field 'scale'"),
    ("v as float", RATING_TOPIC, rating(v=1.0), "'v' must be an integer"),
    ("health v as float", "forecourt/v1/s-1/health", health(v=1.0), "'v' must be an integer"),
    ("track_id as float", "forecourt/v1/s-1/event/zone", zone(track_id=4.0), "field 'track_id'"),
    ("counter as bool", "forecourt/v1/s-1/health", health(reconnects=True), "field 'reconnects'"),
    ("ts year 1", RATING_TOPIC, rating(ts="0001-01-01T00:00:00.000Z"), "outside 1970-01-01T00:00:00.000Z"),
    ("ts year 9999", RATING_TOPIC, rating(ts="9999-12-31T23:59:59.999Z"), "outside"),
    ("ts 401 days old", RATING_TOPIC, rating(ts=format_ts(NOW - timedelta(days=401))), "more than 400 days in the past"),
    ("health 401 days old", "forecourt/v1/s-1/health", health(ts=format_ts(NOW - timedelta(days=401))),
     "more than 400 days in the past"),
    ("visit time year 1", "forecourt/v1/s-1/event/visit", visit(arrived_at="0001-01-01T00:00:00.000Z"),
     "field 'arrived_at'"),
    ("ts non-ASCII digits", RATING_TOPIC, rating(ts="\u0662\u0660\u0662\u0666-11-23T12:00:00.000Z"), "field 'ts'"),
    ("status started_at year 1", "forecourt/v1/s-1/status",
     b'{"state":"online","version":"1","config_hash":"c","started_at":"0001-01-01T00:00:00.000Z"}', "started_at"),
]


@pytest.mark.parametrize(("topic", "payload", "reason"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_decode_rejects_with_a_precise_reason(topic, payload, reason):
    with pytest.raises(ProtocolError) as err:
        decode(topic, payload, now=NOW)
    assert reason in str(err.value)


def test_there_are_at_least_25_rejection_cases():
    assert len(REJECTED) >= 25


def _event_fields():
    return {"id": "0123456789abcdef", "seq": 3, "station": "s-1", "ts": TS}


ROUND_TRIPS = [
    Rating(**_event_fields(), kiosk="shop", location="shop", score=1, scale=3, reason="waiting"),
    Rating(**_event_fields(), kiosk="wc-exit", score=5, scale=5),
    Cleaning(**_event_fields(), restroom="ladies", flag="within 5 min of the previous check-in", since_last_s=60.0),
    Visit(**_event_fields(), bay="bay-1", arrived_at=TS, stopped_at=TS, greeted_at=TS, departed_at=TS,
          greet_s=0.0, dwell_s=0.0, merged_gaps=1, occluded_s=0.4, min_fps=4.5),
    Alert(**_event_fields(), alert="restroom_overdue", state="open", subject="ladies", message="late", value=600.0),
    ZoneDwell(**_event_fields(), zone="road", object_class="person", track_id=4, entered_at=TS, exited_at=TS,
              dwell_s=0.0),
    Health(id="0123456789abcdef", station="s-1", ts=TS, version="0.1.0", uptime_s=5.0,
           filtered_presses={"shop": 3}, camera_fps=4.9),
]


@pytest.mark.parametrize("message", ROUND_TRIPS, ids=lambda m: type(m).__name__)
def test_round_trip(message):
    topic, payload = encode(message)
    assert topic == parse_topic(topic).__str__()
    assert decode(topic, payload, now=NOW) == message


def test_status_round_trip_and_last_will_shape():
    birth = Status(state="online", version="0.1.0", config_hash="abc", started_at=TS)
    topic, payload = encode(birth, station="s-1")
    assert topic == status_topic("s-1") == "forecourt/v1/s-1/status"
    assert decode(topic, payload, now=NOW) == birth
    _, will = encode(Status(state="offline"), station="s-1")
    assert will == b'{"state":"offline"}'


def test_unknown_fields_are_ignored_for_forward_compatibility():
    message = decode(RATING_TOPIC, rating(colour="blue"), now=NOW)
    assert isinstance(message, Rating) and message.score == 2


def test_event_topic_refuses_a_bad_station_id():
    with pytest.raises(ProtocolError, match="must match"):
        event_topic("Bad Station", "rating")


@pytest.mark.parametrize("station", ["a", "s-1", "0" * 64, "oslo-sentrum-2"])
def test_valid_station_ids(station):
    assert parse_topic(event_topic(station, "rating")).station == station


@pytest.mark.parametrize("station", ["", "-a", "A", "a_b", "a" * 65, "a/b", "+", "#"])
def test_invalid_station_ids(station):
    with pytest.raises(ProtocolError):
        event_topic(station, "rating")


ACCEPTED_AT_THE_LIMITS = [
    ("seq at int64 max", RATING_TOPIC, rating(seq=2**63 - 1)),
    ("int64 min in an unknown field", RATING_TOPIC, rating(colour=-(2**63))),
    ("nested 32 deep", RATING_TOPIC, rating(extra=json.loads("[" * 31 + "]" * 31))),
    ("brackets in strings do not nest", RATING_TOPIC, rating(location="[{" * 2000 + '\\"[')),
    ("a surrogate pair is one character", RATING_TOPIC, rating(location="\U0001f600")),
    ("an escaped backslash before u", RATING_TOPIC, rating(location="\\ud800")),
    ("tiny float underflows to zero", "forecourt/v1/s-1/event/alert", alert(value=1.5).replace(b"1.5", b"1e-400")),
    ("ts 400 days old", RATING_TOPIC, rating(ts=format_ts(NOW - timedelta(days=400)))),
    ("ts at the epoch in started_at", "forecourt/v1/s-1/status",
     b'{"state":"online","version":"1","config_hash":"c","started_at":"1970-01-01T00:00:00.000Z"}'),
]


@pytest.mark.parametrize(("topic", "payload"), [c[1:] for c in ACCEPTED_AT_THE_LIMITS],
                         ids=[c[0] for c in ACCEPTED_AT_THE_LIMITS])
def test_decode_accepts_what_lies_just_inside_the_limits(topic, payload):
    decode(topic, payload, now=NOW)


def test_the_depth_limit_does_not_depend_on_the_callers_stack():
    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # json.loads alone would raise RecursionError at ~100 levels here
    try:
        with pytest.raises(ProtocolError, match="deeper than 32"):
            decode(RATING_TOPIC, b"[" * 150 + b"]" * 150, now=NOW)
    finally:
        sys.setrecursionlimit(limit)


def test_encode_refuses_what_decode_would_refuse():
    sample = Health(id="0123456789abcdef", station="s-1", ts=TS, version="1", uptime_s=1.0,
                    extra={"log": "\ud800", "big": 2**70})
    with pytest.raises(ProtocolError, match="cannot encode"):
        encode(sample)
    with pytest.raises(ProtocolError, match="64-bit range"):
        encode(sample.model_copy(update={"extra": {"big": 2**70}}))
    _, payload = encode(sample.model_copy(update={"extra": {"temp": float("inf")}}))
    assert payload.endswith(b'"extra":{"temp":null}}')  # pydantic's JSON mode: a non-finite float is null


@pytest.mark.parametrize("name", ["event-rating", "event-cleaning", "event-visit", "event-alert", "event-zone", "health"])
def test_schemas_require_v_and_kind_and_anchor_the_station(name):
    from forecourt.commands.schema import schemas

    schema = schemas()[name]
    assert "v" in schema["required"]
    assert name == "health" or "kind" in schema["required"]
    assert schema["properties"]["station"]["pattern"] == "^[a-z0-9][a-z0-9-]{0,63}$"


def test_models_refuse_a_station_id_that_merely_contains_a_valid_one():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Rating(id="0123456789abcdef", seq=1, station="XX s-1 !!", ts=TS, kiosk="k", score=1, scale=3)
