"""Ingest against a real Mosquitto and a real SQLite file: stored once, duplicates counted, seq gaps,
retained status, and 1,000 malformed payloads that leave the collector running."""

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from cloud.store import open_db
from edge.link.outbox import Outbox
from edge.link.publisher import Publisher
from forecourt.protocol import decode_ack, encode, status_topic
from tests.cloud_kit import count, health, online, rating, start_collector, wait_until
from tests.drafting import draft
from tests.link_helpers import station_config
from tests.mqtt import connect, publish

NOW = datetime.now(UTC).replace(microsecond=0)


def test_events_stored_once_duplicates_counted_gaps_exposed_and_filled(broker, database):
    db_path = database
    station = connect(broker, "a")
    publish(station, status_topic("a"), encode(online("2.1"), "a")[1], retain=True)
    collector = start_collector(broker, db_path)
    try:
        events = {seq: rating("a", seq, NOW - timedelta(minutes=30 - seq), score=1 + seq % 5) for seq in range(1, 11)}
        for seq in (1, 2, 3, 3, 4, 5, 7, 8, 9, 10):  # 3 twice (a retry), 6 held back (lost for now)
            publish(station, *encode(events[seq]))
        publish(station, *encode(health("a", NOW)))
        assert wait_until(lambda: count(db_path, "SELECT count(*) FROM events") == 9
                          and count(db_path, "SELECT duplicates FROM stations WHERE id = 'a'") == 1)
        db = open_db(db_path)
        assert db.execute("SELECT id, station, kind, seq FROM events ORDER BY seq").fetchall() == [
            (events[s].id, "a", "rating", s) for s in (1, 2, 3, 4, 5, 7, 8, 9, 10)
        ]
        assert list(db.query("SELECT station, first_seq, last_seq FROM seq_gaps")) == [
            {"station": "a", "first_seq": 6, "last_seq": 6}
        ]
        row = next(db.query(
            "SELECT status, version, config_hash, auto_registered, last_seq, duplicates, health_at FROM stations WHERE id = 'a'"))
        assert row == {"status": "online", "version": "2.1", "config_hash": "cfg1", "auto_registered": 1,
                       "last_seq": 10, "duplicates": 1, "health_at": health("a", NOW).ts}
        stored = json.loads(db.execute("SELECT payload FROM events WHERE seq = 4").fetchone()[0])
        assert stored == events[4].model_dump(mode="json")

        publish(station, *encode(events[6]))  # the outbox replays the late one
        assert wait_until(lambda: count(db_path, "SELECT count(*) FROM seq_gaps") == 0)
        assert count(db_path, "SELECT count(*) FROM events") == 10
        publish(station, status_topic("a"), b'{"state":"offline"}', retain=True)
        assert wait_until(lambda: count(db_path, "SELECT count(*) FROM stations WHERE status = 'offline'") == 1)
    finally:
        station.loop_stop()
        collector.stop()


def _malformed(now: datetime) -> list[tuple[str, str, bytes, str]]:
    """(name, topic, payload, what the dead letter's reason must say)."""
    good = rating("a", 1, now, 3).model_dump(mode="json")
    topic = "forecourt/v1/a/event/rating"

    def variant(**changes) -> bytes:
        body = {**good, **changes}
        return json.dumps({k: v for k, v in body.items() if v != "<drop>"}).encode()

    # Not here because the broker refuses them before the collector sees them (tests/test_broker_acl.py):
    # payloads above MAX_PAYLOAD_BYTES, and event kinds the station's role does not name.
    return [
        ("truncated", topic, b'{"v":1,"id":', "not JSON"),
        ("not utf-8", topic, b'{"v":1,"x":"\xff\xfe"}', "not UTF-8"),
        ("array", topic, b"[1,2,3]", "must be a JSON object"),
        ("empty", topic, b"", "not JSON"),
        ("nan", topic, variant(score="NaN").replace(b'"NaN"', b"NaN"), "NaN"),
        ("missing id", topic, variant(id="<drop>"), "missing field 'id'"),
        ("string score", topic, variant(score="3"), "field 'score'"),
        ("score above scale", topic, variant(score=5, scale=3), "above the scale"),
        ("other station", topic, variant(station="b"), "does not match the topic's station"),
        ("kind mismatch", "forecourt/v1/a/event/cleaning", variant(), "does not match the topic's kind"),
        ("bad ts", topic, variant(ts="yesterday"), "field 'ts'"),
        ("future ts", topic, variant(ts=(now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")), "in the future"),
        ("v2", topic, variant(v=2), "unknown major version 2"),
        ("long field", topic, variant(kiosk="k" * 10_000), "at most 64 characters"),  # > dead_letter_bytes
        ("bad status", "forecourt/v1/a/status", b'{"state":"sleepy"}', "state"),
        ("bad health", "forecourt/v1/a/health", b'{"v":1,"station":"a"}', "missing field"),
    ]


def test_every_verdict_is_acknowledged_to_the_station_after_the_commit(broker, database):
    db_path = database
    collector = start_collector(broker, db_path)
    received: list = []
    station = connect(broker, "a", on_message=received.append)
    subscribed = threading.Event()
    station.on_subscribe = lambda *_: subscribed.set()
    station.subscribe("forecourt/v1/a/ack", qos=1)  # the station listens where HQ answers
    try:
        assert subscribed.wait(5)
        events = [rating("a", seq, NOW - timedelta(minutes=10 - seq), score=3) for seq in (1, 2, 3)]
        for event in events + [events[1]]:  # seq 2 twice: a resend HQ already holds
            publish(station, *encode(event))
        refused = rating("a", 4, NOW, score=3).model_dump(mode="json") | {"score": 5, "scale": 3}
        publish(station, "forecourt/v1/a/event/rating", json.dumps(refused).encode())
        sample = health("a", NOW)
        publish(station, *encode(sample))

        def settled() -> tuple[set[int], dict[int, str], set[str]]:
            stored, rejected, ids = set(), {}, set()
            for message in list(received):
                ack = decode_ack(message.topic, message.payload, station="a")
                assert not message.retain
                stored |= set(ack.stored_seqs())
                rejected |= {r.seq: r.reason for r in ack.rejected}
                ids |= set(ack.health)
            return stored, rejected, ids

        assert wait_until(lambda: settled()[0] == {1, 2, 3} and 4 in settled()[1] and settled()[2] == {sample.id})
        assert "above the scale" in settled()[1][4]
        # Acknowledged only once committed: everything named is in the database.
        assert count(db_path, "SELECT count(*) FROM events") == 3
        assert count(db_path, "SELECT count(*) FROM dead_letters") == 1
    finally:
        station.loop_stop()
        collector.stop()


def test_1000_malformed_payloads_become_dead_letters_and_valid_traffic_survives(broker, database):
    db_path = database
    collector = start_collector(broker, db_path)
    station = connect(broker, "a")
    kinds = _malformed(NOW)
    sent_valid, sent_bad = [], Counter()
    by_message = {}
    try:
        seq = 0
        for i in range(1000):
            name, topic, payload, _ = kinds[i % len(kinds)]
            station.publish(topic, payload, qos=1)
            sent_bad[name] += 1
            by_message[(topic, payload[:2048])] = name
            if i % 10 == 0:
                seq += 1
                event = rating("a", seq, NOW - timedelta(seconds=1000 - i), score=1 + i % 5)
                station.publish(*encode(event), qos=1)
                sent_valid.append(event.id)
        assert wait_until(lambda: count(db_path, "SELECT count(*) FROM dead_letters") == 1000
                          and count(db_path, "SELECT count(*) FROM events") == len(sent_valid), timeout=30)
        db = open_db(db_path)
        got = Counter()
        reasons = {name: expected for name, _, _, expected in kinds}
        for topic, payload, reason, size, dl_station in db.execute(
            "SELECT topic, payload, reason, size, station FROM dead_letters"
        ):
            name = by_message[(topic, bytes(payload))]
            assert reasons[name] in reason, (name, reason)
            assert dl_station == "a" and size >= len(payload)
            got[name] += 1
        assert got == sent_bad
        assert [r[0] for r in db.execute("SELECT id FROM events ORDER BY seq")] == sent_valid
        assert count(db_path, "SELECT count(*) FROM seq_gaps") == 0
        assert count(db_path, "SELECT max(size) FROM dead_letters") > 10_000  # the size kept, the bytes capped
        assert count(db_path, "SELECT max(length(payload)) FROM dead_letters") == 2048
        # Still running: one more valid event is stored.
        late = rating("a", seq + 1, NOW, score=5)
        publish(station, *encode(late))
        assert wait_until(lambda: count(db_path, "SELECT count(*) FROM events WHERE id = ?", (late.id,)) == 1)
    finally:
        station.loop_stop()
        collector.stop()


def test_events_from_the_edge_outbox_and_publisher_are_stored_once_across_a_broker_restart(broker, tmp_path, database):
    """With a plain subscription (share_group = ""): Mosquitto 2.0.11 does not restore shared subscriptions
    from its persistence, so a shared-subscription collector would lose what is published after a broker
    restart until it resubscribes."""
    db_path = database
    collector = start_collector(broker, db_path, share_group="")
    config = station_config(broker, tmp_path)
    outbox = Outbox(config.outbox.path, station="a")
    publisher = Publisher(outbox, config.mqtt, station="a", birth=online(), window=50, rate=100_000)
    publisher.start()
    start = NOW.timestamp() - 600

    def emit(first: int, last: int) -> None:
        for i in range(first, last):
            outbox.emit(draft("rating", start + i, {"kiosk": "k1", "location": "shop", "score": 1 + i % 5, "scale": 5}))

    try:
        emit(0, 150)
        assert wait_until(lambda: count(db_path, "SELECT count(*) FROM events") >= 50)
        broker.restart()  # mid-stream: both sessions and their queues survive in the broker's persistence
        emit(150, 300)
        assert wait_until(lambda: count(db_path, "SELECT count(*) FROM events") == 300, timeout=30)
        assert wait_until(lambda: count(db_path, "SELECT count(*) FROM stations WHERE status = 'online'") == 1)
        db = open_db(db_path)
        assert [r[0] for r in db.execute("SELECT seq FROM events ORDER BY seq")] == list(range(1, 301))
        assert count(db_path, "SELECT count(*) FROM dead_letters") == 0
        assert count(db_path, "SELECT count(*) FROM seq_gaps") == 0
    finally:
        publisher.stop()
        outbox.close()
        collector.stop()
