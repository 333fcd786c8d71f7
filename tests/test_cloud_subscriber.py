"""The subscriber's acknowledgements: a committed batch's PUBACKs go out as one write of exactly the bytes
paho's ack() would send, in order, and only after the commit; a broker that lets few messages be
unacknowledged still delivers everything, so it counts those PUBACKs as acknowledgements."""

import inspect
import sqlite3
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from cloud.config import CollectorMqtt, IngestSettings
from cloud.ingest import Ingestor
from cloud.store import open_db
from cloud.subscriber import Subscriber, _Received
from forecourt.protocol import encode
from tests.cloud_kit import collector_settings, count, rating, wait_until
from tests.mqtt import connect, publish

NOW = datetime.now(UTC).replace(microsecond=0)


def test_paho_still_has_the_packet_queue_the_acknowledgements_use():
    """What cloud/subscriber.py calls instead of ack() per message; a paho that changes it fails here first."""
    parameters = list(inspect.signature(mqtt.Client._packet_queue).parameters)  # noqa: SLF001
    assert parameters[:5] == ["self", "command", "packet", "mid", "qos"]


def _queued(client: mqtt.Client) -> list[bytes]:
    return [bytes(packet["packet"]) for packet in client._out_packet]  # noqa: SLF001 - what paho would write


def test_a_batch_is_acknowledged_in_one_write_of_the_bytes_ack_would_send_in_arrival_order():
    subscriber = Subscriber(CollectorMqtt(url="mqtt://127.0.0.1:1"), IngestSettings(), lambda: None)
    mids = [7, 1, 65535, 300, 2]
    batch = [_Received("forecourt/v1/a/event/rating", b"{}", mid, 1) for mid in mids]
    batch.insert(2, _Received("forecourt/v1/a/status", b"{}", 0, 0))  # QoS 0 (a retained status): no PUBACK
    subscriber._acknowledge(batch)  # noqa: SLF001

    one_by_one = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTProtocolVersion.MQTTv5, manual_ack=True)
    for mid in mids:
        one_by_one.ack(mid, 1)
    assert _queued(subscriber.client) == [b"".join(_queued(one_by_one))]
    assert len(_queued(one_by_one)) == len(mids)


class _Failing(Ingestor):
    """A database that cannot be written (disk full): every batch fails, and is kept and retried."""

    def __init__(self, db) -> None:
        super().__init__(db)
        self.tried: set[bytes] = set()

    def store(self, batch, *, now):
        self.tried.update(message.payload for message in batch)
        raise sqlite3.OperationalError("database or disk is full")


def test_pubacks_only_after_the_commit_and_a_tight_receive_maximum_still_drains_everything(broker, tmp_path):
    db_path = tmp_path / "collector.db"
    open_db(db_path).close()
    # The broker may have only 10 messages unacknowledged with us, in batches of 4: 60 events arrive only if
    # it counts our PUBACKs, each batch's sent in one write.
    settings = collector_settings(broker, "collector", share_group="", receive_maximum=10)
    ingest = IngestSettings(batch_size=4, batch_wait_ms=5)
    station = connect(broker, "a")
    events = [rating("a", seq, NOW - timedelta(minutes=90 - seq), score=3) for seq in range(1, 61)]
    full = _Failing(open_db(db_path))
    failing = Subscriber(settings, ingest, lambda: full).start()
    try:
        for event in events[:5]:
            publish(station, *encode(event))
        # All five received: the first batch failing again and again, the others waiting behind it.
        assert wait_until(lambda: full.tried and len(full.tried) + len(failing._inbox) == 5)  # noqa: SLF001
    finally:
        failing.stop()
    assert (failing.stored, count(db_path, "SELECT count(*) FROM events")) == (0, 0)

    working = Subscriber(settings, ingest, lambda: Ingestor(open_db(db_path))).start()
    try:
        for event in events[5:]:
            publish(station, *encode(event))
        # The five the failing collector never acknowledged come again, then the rest, each once.
        assert wait_until(lambda: count(db_path, "SELECT count(*) FROM events") == 60)
        assert count(db_path, "SELECT duplicates FROM stations WHERE id = 'a'") == 0
    finally:
        working.stop()

    again = Subscriber(settings, ingest, lambda: Ingestor(open_db(db_path))).start()
    try:  # the session resumes with nothing owed: one more event, and it is the only thing delivered
        publish(station, *encode(rating("a", 61, NOW, score=4)))
        assert wait_until(lambda: again.stored == 1)
        assert (again.duplicates, count(db_path, "SELECT count(*) FROM events")) == (0, 61)
    finally:
        again.stop()
        station.loop_stop()
