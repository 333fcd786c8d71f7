"""The decoder compares validated timestamps as text, not as datetimes (cheaper, and decoding is most of
what the collector's ingest process spends). These hold the text comparisons to the arithmetic they replace:
the 24 h / 400 day window around a ``now`` with sub-millisecond digits, the [1970, 3000) bounds, a visit's
order across day and year boundaries. Also the two things json.loads did that the codec now does itself."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from forecourt.errors import ProtocolError
from forecourt.protocol import decode, format_ts, parse_ts
from forecourt.protocol.codec import MAX_AGE, MAX_CLOCK_SKEW

RATING_TOPIC = "forecourt/v1/s-1/event/rating"
VISIT_TOPIC = "forecourt/v1/s-1/event/visit"


def rating(ts: str) -> bytes:
    return json.dumps({"v": 1, "id": "0123456789abcdef", "seq": 7, "station": "s-1", "ts": ts, "kind": "rating",
                       "kiosk": "shop", "score": 2, "scale": 5}).encode()


def in_window(ts: str, now: datetime) -> bool:
    """The window as the codec defined it before it compared text."""
    when = parse_ts(ts)
    return not (when - now > MAX_CLOCK_SKEW or now - when > MAX_AGE)


NOWS = [datetime(2026, 11, 23, 12, 0, 0, micro, tzinfo=UTC) for micro in (0, 1, 999, 1000, 123456, 999000, 999999)]
STEPS = [timedelta(microseconds=us) for us in (-2000, -1001, -1000, -999, -1, 0, 1, 999, 1000, 1001, 2000)]


@pytest.mark.parametrize("now", NOWS, ids=lambda now: f"now .{now.microsecond:06d}")
def test_the_window_by_text_agrees_with_the_arithmetic_at_both_edges(now):
    checked = 0
    for edge in (now + MAX_CLOCK_SKEW, now - MAX_AGE):
        for step in STEPS:
            ts = format_ts(edge + step)
            try:
                decode(RATING_TOPIC, rating(ts), now=now)
                accepted = True
            except ProtocolError as err:
                assert "more than" in str(err), err
                accepted = False
            assert accepted == in_window(ts, now), (ts, now)
            checked += 1
    assert checked == 2 * len(STEPS)


def test_the_window_holds_for_a_now_in_another_time_zone():
    from datetime import timezone

    now = datetime(2026, 11, 23, 13, 0, 0, 500, tzinfo=timezone(timedelta(hours=1)))  # 12:00:00.0005 UTC
    decode(RATING_TOPIC, rating(format_ts(now + MAX_CLOCK_SKEW)), now=now)
    with pytest.raises(ProtocolError, match="in the future"):
        decode(RATING_TOPIC, rating(format_ts(now + MAX_CLOCK_SKEW + timedelta(milliseconds=1))), now=now)


STARTED_AT = [
    ("1969-12-31T23:59:59.999Z", False),
    ("1970-01-01T00:00:00.000Z", True),
    ("2999-12-31T23:59:59.999Z", True),
    ("3000-01-01T00:00:00.000Z", False),
    ("9999-12-31T23:59:59.999Z", False),
    ("2028-02-29T00:00:00.000Z", True),
    ("2026-02-29T00:00:00.000Z", False),  # the format, but no such day: still parsed, not only compared
    ("2026-11-23T24:00:00.000Z", False),
]


@pytest.mark.parametrize(("started_at", "accepted"), STARTED_AT, ids=[s for s, _ in STARTED_AT])
def test_timestamp_bounds_and_real_dates(started_at, accepted):
    payload = json.dumps({"state": "online", "version": "1", "config_hash": "c", "started_at": started_at}).encode()
    if accepted:
        assert decode("forecourt/v1/s-1/status", payload, now=datetime(2026, 11, 23, tzinfo=UTC)).started_at == started_at
    else:
        with pytest.raises(ProtocolError, match="started_at"):
            decode("forecourt/v1/s-1/status", payload, now=datetime(2026, 11, 23, tzinfo=UTC))


def visit(arrived: str, stopped: str, departed: str) -> bytes:
    return json.dumps({"v": 1, "id": "0123456789abcdef", "seq": 1, "station": "s-1", "ts": departed, "kind": "visit",
                       "bay": "b1", "arrived_at": arrived, "stopped_at": stopped, "departed_at": departed,
                       "dwell_s": 1.0}).encode()


VISITS = [
    ("all equal", ("2026-11-23T11:00:00.000Z",) * 3, True),
    ("1 ms out of order", ("2026-11-23T11:00:00.001Z", "2026-11-23T11:00:00.000Z", "2026-11-23T11:00:00.002Z"), False),
    ("across a year boundary", ("2025-12-31T23:59:59.999Z", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:01.000Z"), True),
    ("across it backwards", ("2026-01-01T00:00:00.000Z", "2025-12-31T23:59:59.999Z", "2026-01-01T00:00:01.000Z"), False),
    ("departed before stopped", ("2026-11-23T10:00:00.000Z", "2026-11-23T11:00:00.000Z", "2026-11-23T10:59:59.999Z"), False),
]


@pytest.mark.parametrize(("times", "accepted"), [v[1:] for v in VISITS], ids=[v[0] for v in VISITS])
def test_a_visits_times_in_order_by_text_as_by_time(times, accepted):
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert accepted == (parse_ts(times[0]) <= parse_ts(times[1]) <= parse_ts(times[2]))  # the table itself is right
    if accepted:
        decode(VISIT_TOPIC, visit(*times), now=now)
    else:
        with pytest.raises(ProtocolError, match="arrived_at <= stopped_at <= departed_at"):
            decode(VISIT_TOPIC, visit(*times), now=now)


def test_a_byte_order_mark_is_refused_as_json_loads_refuses_it():
    with pytest.raises(ProtocolError, match="Unexpected UTF-8 BOM"):
        decode(RATING_TOPIC, b"\xef\xbb\xbf" + rating("2026-11-23T12:00:00.000Z"), now=datetime(2026, 11, 23, 12, tzinfo=UTC))


def test_topics_parsed_once_still_refuse_a_bad_one_every_time():
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    for _ in range(3):
        with pytest.raises(ProtocolError, match="station id"):
            decode("forecourt/v1/S-1/event/rating", rating("2026-11-23T12:00:00.000Z"), now=now)
        assert decode(RATING_TOPIC, rating("2026-11-23T12:00:00.000Z"), now=now).station == "s-1"
