"""Storage acknowledgements: the pure message, the outbox's bookkeeping, and the publisher against a real
Mosquitto keeping every event until HQ says it stored it."""

import logging
import time
from datetime import UTC, datetime

import pytest

from cloud.acks import AckBook
from edge.link.outbox import Outbox
from edge.link.publisher import Publisher
from forecourt.errors import ProtocolError
from forecourt.protocol import (
    Health,
    Status,
    build_acks,
    decode_ack,
    encode_ack,
    format_epoch,
    new_id,
    seq_ranges,
)
from tests.drafting import draft
from tests.link_helpers import Collector, rating, station_config
from tests.mqtt import connect
from tests.waiting import wait_until

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
BIRTH = Status(state="online", version="t", config_hash="c", started_at=format_epoch(0))


@pytest.mark.parametrize(
    ("seqs", "ranges"),
    [([], []), ([5], [[5, 5]]), ([3, 1, 2, 2], [[1, 3]]), ([1, 2, 4, 6, 7], [[1, 2], [4, 4], [6, 7]])],
)
def test_seq_ranges_join_runs(seqs, ranges):
    assert seq_ranges(seqs) == ranges


def test_an_ack_round_trips_and_a_seq_both_stored_and_refused_counts_as_stored():
    [ack] = build_acks("a", stored=[1, 2, 3, 5], rejected={4: "bad score", 5: "late copy"}, health=["h" * 10], now=NOW)
    assert (ack.stored, [(r.seq, r.reason) for r in ack.rejected], ack.health) == ([[1, 3], [5, 5]], [(4, "bad score")], ["h" * 10])
    assert decode_ack(*encode_ack(ack), station="a") == ack


def test_a_large_ack_is_split_under_the_payload_limit_and_covers_everything():
    acks = build_acks("a", stored=range(1, 20_000, 2), now=NOW, max_bytes=2048)
    assert len(acks) > 1 and all(len(encode_ack(a)[1]) <= 2048 for a in acks)
    assert sorted(s for a in acks for s in a.stored_seqs()) == list(range(1, 20_000, 2))


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("forecourt/v1/b/ack", b'{"v":1,"station":"b","ts":"2026-12-03T09:00:00.000Z"}'),  # someone else's
        ("forecourt/v1/a/ack", b'{"v":1,"station":"b","ts":"2026-12-03T09:00:00.000Z"}'),
        ("forecourt/v1/a/ack", b'{"v":1,"station":"a","ts":"2026-12-03T09:00:00.000Z","stored":[[5,4]]}'),
        ("forecourt/v1/a/ack", b'{"v":1,"station":"a","ts":"2026-12-03T09:00:00.000Z","stored":[[0,4]]}'),
        ("forecourt/v1/a/ack", b"not json"),
    ],
)
def test_a_station_accepts_only_a_well_formed_ack_for_itself(topic, payload):
    with pytest.raises(ProtocolError):
        decode_ack(topic, payload, station="a")


def test_dead_letters_are_answered_by_the_seq_they_claim_when_they_name_one():
    book = AckBook()
    book.dead_letter("forecourt/v1/a/event/rating", b'{"seq": 7, "score": "x"}', "field 'score'")
    book.dead_letter("forecourt/v1/a/event/rating", b'{"seq": "8"}', "not an int")  # no clear seq: unanswerable
    book.dead_letter("forecourt/v1/a/event/rating", b"[" * 5000, "not JSON")
    book.dead_letter("forecourt/v1/a/health", b'{"id": "0123456789"}', "missing field")
    book.dead_letter("forecourt/v1/a/config", b'{"seq": 9}', "downlink")  # not a station's message
    book.dead_letter("forecourt/v1/b/event/rating", b'{"seq": 2**70}', "too big")
    [ack] = book.messages(now=NOW)
    assert (ack.station, [(r.seq, r.reason) for r in ack.rejected], ack.health) == ("a", [(7, "field 'score'")], ["0123456789"])


def _filled(tmp_path, events: int = 5, **kw) -> Outbox:
    outbox = Outbox(tmp_path / "o.db", station="a", **kw)
    for _ in range(events):
        outbox.emit(draft("rating", time.time(), rating()))
    return outbox


def test_the_outbox_forgets_exactly_what_an_ack_names(tmp_path):
    outbox = _filled(tmp_path)
    sample = Health(id=new_id(), station="a", ts=format_epoch(time.time()), version="t", uptime_s=1.0)
    outbox.add_health(sample)
    [ack] = build_acks("a", stored=[1, 2, 9], rejected={4: "bad"}, health=[sample.id, "f" * 32], now=NOW)
    done = outbox.acknowledge(ack)
    assert (len(done.rows), done.events, done.health, [r.seq for r in done.rejected]) == (4, 3, 1, [4])
    assert [row.n for row in outbox.pending()] == [3, 5]
    assert (outbox.stats().depth, outbox.stats().rejected) == (2, 1)
    assert outbox.acknowledge(ack).rows == []  # a repeated ack changes nothing
    outbox.close()


def test_an_ack_that_frees_room_clears_the_outbox_full_alert(tmp_path):
    outbox = _filled(tmp_path, events=0, max_mb=0.002)
    kept = [outbox.store(draft("rating", time.time(), rating())) for _ in range(20)]
    assert outbox.stats().dropped > 0
    [ack] = build_acks("a", stored=[e.seq for e in kept if e is not None], now=NOW)
    outbox.acknowledge(ack)
    alerts = [row.payload for row in outbox.pending() if b'"outbox_full"' in row.payload]
    assert any(b'"cleared"' in payload for payload in alerts)
    outbox.close()


def _publisher(config, **kw) -> tuple[Outbox, Publisher]:
    outbox = Outbox(config.outbox.path, station="a")
    publisher = Publisher(outbox, config.mqtt, station="a", birth=BIRTH, window=50, rate=100_000, **kw)
    return outbox, publisher


def test_puback_alone_never_deletes_and_unacknowledged_events_are_sent_again(broker, tmp_path):
    silent = Collector(broker, client_id="silent-hq", acknowledge=False)
    outbox, publisher = _publisher(station_config(broker, tmp_path), resend_after_s=0.3)
    publisher.start()
    try:
        for _ in range(10):
            outbox.emit(draft("rating", time.time(), rating()))
        assert silent.wait_for(lambda c: len(c.ids()) == 10)
        assert wait_until(lambda: publisher.stats().resent >= 10)  # PUBACKed, not acknowledged: sent again
        assert outbox.stats().events == 10 and publisher.stats().published >= 10
        assert silent.wait_for(lambda c: c.duplicates() >= 10)  # the copies arrive just after they are counted
        hq = connect(broker, "collector", client_id="hq-acks")  # now HQ answers for what it holds
        for ack in build_acks("a", stored=range(1, 11), now=NOW):
            hq.publish(*encode_ack(ack), qos=1)
        assert wait_until(lambda: publisher.stats().confirmed == 10)  # counted just after the rows go
        assert outbox.stats().events == 0 and publisher.stats().awaiting_ack == 0
        hq.loop_stop()
    finally:
        publisher.stop()
        silent.close()
        outbox.close()


def test_puback_no_matching_subscribers_is_logged_and_the_event_is_kept_until_hq_is_back(broker, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="edge.link.publisher")
    outbox, publisher = _publisher(station_config(broker, tmp_path), resend_after_s=0.3)
    publisher.start()
    try:
        assert publisher.wait_connected(10)
        ids = {outbox.store(draft("rating", time.time(), rating())).id for _ in range(5)}
        assert wait_until(lambda: publisher.stats().no_subscribers >= 5)  # nobody subscribed: reason 16
        assert outbox.stats().events == 5
        assert any("reason 16" in r.getMessage() for r in caplog.records)
        hq = Collector(broker)  # acknowledges what it receives, as the collector does
        assert hq.wait_for(lambda c: ids <= c.ids())
        assert wait_until(lambda: outbox.stats().events == 0)
        hq.close()
    finally:
        publisher.stop()
        outbox.close()


def test_keep_until_puback_is_the_old_behaviour(broker, tmp_path):
    silent = Collector(broker, client_id="silent-hq", acknowledge=False)
    outbox, publisher = _publisher(station_config(broker, tmp_path), keep_until="puback")
    publisher.start()
    try:
        for _ in range(5):
            outbox.emit(draft("rating", time.time(), rating()))
        assert wait_until(lambda: outbox.stats().events == 0)
        assert silent.wait_for(lambda c: len(c.ids()) == 5)
    finally:
        publisher.stop()
        silent.close()
        outbox.close()


def test_at_most_unacked_limit_events_wait_for_hq(broker, tmp_path):
    silent = Collector(broker, client_id="silent-hq", acknowledge=False)
    outbox, publisher = _publisher(station_config(broker, tmp_path), unacked_limit=7, resend_after_s=60)
    publisher.start()
    try:
        for _ in range(20):
            outbox.emit(draft("rating", time.time(), rating()))
        assert silent.wait_for(lambda c: len(c.ids()) == 7)
        assert not silent.wait_for(lambda c: len(c.ids()) > 7, timeout=0.5)
        assert publisher.stats().awaiting_ack == 7
    finally:
        publisher.stop()
        silent.close()
        outbox.close()
