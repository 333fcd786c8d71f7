"""The outbox on a real SQLite file: durability settings, seq assignment, validation at the source,
delivery bookkeeping and the bounded-size policy."""

import json
import sqlite3

import pytest

from edge.events import Draft
from edge.link.outbox import Outbox
from forecourt.errors import ConfigError, ProtocolError
from forecourt.protocol import Health, RatingBody, decode, format_epoch, new_id, parse_ts
from tests.drafting import draft

AT = 1_795_430_000.25  # 2026-11-23T10:33:20.250Z


def rating(score: int = 4) -> Draft:
    return draft("rating", AT, {"kiosk": "shop", "location": "shop", "score": score, "scale": 5})


def health(n: int = 0) -> Health:
    return Health(id=new_id(), station="a", ts=format_epoch(AT + n), version="t", uptime_s=float(n))


def test_wal_and_full_sync_so_a_committed_event_survives_power_loss(tmp_path):
    outbox = Outbox(tmp_path / "o.db", station="a")
    assert outbox.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert outbox.db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    outbox.close()


def test_event_is_a_valid_protocol_message_with_envelope_from_the_outbox(tmp_path):
    outbox = Outbox(tmp_path / "o.db", station="a")
    event = outbox.store(rating())
    [row] = outbox.pending()
    assert row.topic == "forecourt/v1/a/event/rating"
    decoded = decode(row.topic, row.payload, now=parse_ts("2026-11-23T12:00:00.000Z"))
    assert decoded == event
    assert (event.seq, event.station, event.ts, event.score) == (1, "a", "2026-11-23T10:33:20.250Z", 4)
    outbox.close()


def test_seq_continues_across_reopening_and_emptying(tmp_path):
    outbox = Outbox(tmp_path / "o.db", station="a")
    first = [outbox.store(rating()).seq for _ in range(3)]
    outbox.delivered(row.n for row in outbox.pending())
    outbox.close()
    reopened = Outbox(tmp_path / "o.db", station="a")
    assert first + [reopened.store(rating()).seq for _ in range(2)] == [1, 2, 3, 4, 5]
    reopened.close()


def test_row_numbers_are_never_reused_after_the_table_empties(tmp_path):
    outbox = Outbox(tmp_path / "o.db", station="a")
    outbox.store(rating())
    [old] = outbox.pending()
    outbox.delivered([old.n])
    outbox.store(rating())
    [new] = outbox.pending()
    assert new.n > old.n  # the publisher's "sent up to n" cursor would otherwise skip the new row
    outbox.close()


@pytest.mark.parametrize(
    ("draft", "message"),
    [
        # model_construct skips the body's own checks, as a bug in a subsystem could: the outbox checks again.
        (Draft(AT, RatingBody.model_construct(kiosk="shop", score=6, scale=5)), "field 'score'"),
        (Draft(AT, RatingBody.model_construct(kiosk="shop", score=5)), "missing field 'scale'"),
        (Draft(AT, {"kiosk": "shop", "score": 1, "scale": 5}), "carries an event body, not dict"),
        (draft("cleaning", float("nan"), {"restroom": "ladies"}), "not a time in epoch seconds"),
    ],
)
def test_invalid_drafts_fail_loudly_and_use_no_seq(tmp_path, draft, message):
    outbox = Outbox(tmp_path / "o.db", station="a")
    with pytest.raises(ProtocolError, match=message):  # a ValueError, named for what it is
        outbox.emit(draft)
    assert outbox.store(rating()).seq == 1
    assert outbox.stats().depth == 1
    outbox.close()


def test_pending_is_in_order_after_a_cursor_and_delivered_forgets_rows(tmp_path):
    outbox = Outbox(tmp_path / "o.db", station="a")
    ids = [outbox.store(rating(s)).id for s in (1, 2, 3, 4)]
    outbox.add_health(health())
    rows = outbox.pending(limit=10)
    assert [json.loads(r.payload)["id"] for r in rows[:4]] == ids
    assert rows[4].topic == "forecourt/v1/a/health"
    assert [r.n for r in outbox.pending(after=rows[1].n, limit=2)] == [rows[2].n, rows[3].n]
    assert outbox.delivered([rows[0].n, rows[2].n, 999]) == 2
    assert [r.n for r in outbox.pending()] == [rows[1].n, rows[3].n, rows[4].n]
    stats = outbox.stats()
    assert (stats.depth, stats.events, stats.last_seq) == (3, 2, 4)
    outbox.close()


def test_a_full_outbox_thins_health_first_then_counts_lost_events_and_alerts_once(tmp_path):
    outbox = Outbox(tmp_path / "o.db", station="a", max_mb=0.003)  # room for about six rows
    for n in range(4):
        assert outbox.add_health(health(n))
    kept = [outbox.store(rating()) for _ in range(12)]
    stats = outbox.stats()
    assert stats.health_thinned == 4  # every health sample made way for events
    assert stats.dropped == sum(e is None for e in kept) > 0
    alerts = [json.loads(r.payload) for r in outbox.pending(limit=100) if r.topic.endswith("/alert")]
    assert [(a["alert"], a["state"], a["value"]) for a in alerts] == [("outbox_full", "open", 1.0)]
    # seq stays gap-free: the events not kept never got one; the alert did.
    assert [json.loads(r.payload)["seq"] for r in outbox.pending(limit=100)] == list(range(1, stats.last_seq + 1))

    outbox.delivered(r.n for r in outbox.pending(limit=100))
    alerts = [json.loads(r.payload) for r in outbox.pending(limit=100)]
    assert [(a["alert"], a["state"], a["value"]) for a in alerts] == [("outbox_full", "cleared", float(stats.dropped))]
    assert f"{stats.dropped} events could not be kept" in alerts[0]["message"]
    assert outbox.add_health(health(9))  # room again
    outbox.close()


def test_a_health_sample_that_cannot_fit_is_thinned_not_an_error(tmp_path):
    outbox = Outbox(tmp_path / "o.db", station="a", max_mb=0.001)
    while outbox.store(rating()) is not None:
        pass
    assert outbox.add_health(health()) is False
    assert outbox.stats().health_thinned == 1
    outbox.close()


def test_dropped_count_and_open_alert_survive_a_restart(tmp_path):
    outbox = Outbox(tmp_path / "o.db", station="a", max_mb=0.001)
    while outbox.store(rating()) is not None:
        pass
    outbox.store(rating())
    dropped = outbox.stats().dropped
    outbox.close()
    reopened = Outbox(tmp_path / "o.db", station="a", max_mb=0.001)
    assert reopened.stats().dropped == dropped == 2
    reopened.store(rating())  # still full: counted, but no second alert
    alerts = [r for r in reopened.pending(limit=100) if r.topic.endswith("/alert")]
    assert len(alerts) == 1
    reopened.close()


def test_stats_report_depth_and_the_oldest_undelivered_time(tmp_path):
    times = iter([100.0, 160.0])
    outbox = Outbox(tmp_path / "o.db", station="a", clock=lambda: next(times))
    outbox.store(rating())
    outbox.add_health(health())
    stats = outbox.stats()
    assert (stats.depth, stats.events, stats.oldest_stored_at) == (2, 1, 100.0)
    assert stats.stored_bytes == sum(len(r.topic) + len(r.payload) + 100 for r in outbox.pending())
    outbox.close()


def test_an_outbox_written_by_another_connection_is_read_back_whole(tmp_path):
    outbox = Outbox(tmp_path / "o.db", station="a")
    event = outbox.store(rating())
    outbox.close()
    with sqlite3.connect(tmp_path / "o.db") as conn:
        rows = conn.execute("SELECT seq, kind, id, topic FROM outbox").fetchall()
    assert rows == [(1, "rating", event.id, "forecourt/v1/a/event/rating")]


def test_an_outbox_path_that_cannot_be_opened_is_a_config_error_naming_it(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"outbox.path: cannot open .*file/o.db"):
        Outbox(tmp_path / "file" / "o.db", station="a")
    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match="junk.db"):
        Outbox(tmp_path / "junk.db", station="a")


def cleaning(restroom: str, at: float, flag: str | None = None) -> Draft:
    return draft("cleaning", at, {"restroom": restroom, "flag": flag, "since_last_s": None})


def test_last_counted_check_in_per_restroom_survives_delivery_and_reopening(tmp_path):
    outbox = Outbox(tmp_path / "o.db", station="a")
    outbox.store(cleaning("ladies", 1000.0))
    outbox.store(cleaning("gents", 1100.0))
    outbox.store(cleaning("ladies", 1200.0))
    outbox.store(cleaning("ladies", 1250.0, flag="too_soon"))  # kept and sent, but not a cleaning
    outbox.delivered(row.n for row in outbox.pending())
    outbox.close()
    reopened = Outbox(tmp_path / "o.db", station="a")
    assert reopened.stats().depth == 0
    assert reopened.last_check_ins() == {"ladies": 1200.0, "gents": 1100.0}
    reopened.close()
