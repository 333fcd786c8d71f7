"""The publisher against a real Mosquitto: availability, refused connections, rejected publishes, protocols."""

import json
import logging
import time

import pytest

from edge.config import MqttSettings
from edge.link.outbox import Outbox
from edge.link.publisher import Publisher
from forecourt.errors import ConfigError
from forecourt.protocol import Status, format_epoch
from tests.drafting import draft
from tests.link_helpers import Collector, rating
from tests.mqtt import Recorder
from tests.waiting import wait_until

BIRTH = Status(state="online", version="9.9", config_hash="cafe", started_at=format_epoch(1_795_430_000))


def settings(broker, **overrides) -> MqttSettings:
    values = {"url": broker.url, "password": broker.users["a"], "reconnect_min_s": 0.05, "reconnect_max_s": 0.3}
    return MqttSettings(**{**values, **overrides})


def retained_status(broker, station: str = "a") -> dict | None:
    """What a newcomer sees on the status topic: the retained message, or None."""
    recorder = Recorder(broker, topic=f"forecourt/v1/{station}/status")
    try:
        recorder.wait_for(lambda msgs: msgs, timeout=1.0)
        return next((json.loads(p) for _, p, retained in recorder.messages if retained), None)
    finally:
        recorder.close()



def test_birth_is_retained_online_and_a_clean_stop_retains_offline(broker, tmp_path):
    outbox = Outbox(tmp_path / "o.db", station="a")
    publisher = Publisher(outbox, settings(broker), station="a", birth=BIRTH)
    assert not publisher.connected
    publisher.start()
    try:
        assert publisher.wait_connected(10)
        assert wait_until(lambda: retained_status(broker) == BIRTH.model_dump(exclude_none=True))
    finally:
        publisher.stop()
        outbox.close()
    assert retained_status(broker) == {"state": "offline"}


def test_a_wrong_password_is_a_clear_error_retried_with_backoff_and_never_connected(broker, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="edge.link.publisher")
    outbox = Outbox(tmp_path / "o.db", station="a")
    outbox.emit(draft("cleaning", time.time(), {"restroom": "ladies"}))
    publisher = Publisher(outbox, settings(broker, password="wrong"), station="a", birth=BIRTH)
    publisher.start()
    try:
        assert wait_until(lambda: publisher.refused >= 2)  # retried, not given up
        assert not publisher.connected and publisher.stats().published == 0
    finally:
        publisher.stop()
    assert outbox.stats().depth == 1
    outbox.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and all("refused the connection for user 'a'" in e for e in errors), errors
    assert "Bad user name or password" in errors[0] or "Not authorized" in errors[0]
    assert not any("connected to" in r.getMessage() for r in caplog.records)


def test_a_not_authorized_puback_is_an_error_and_the_event_stays_queued(broker, tmp_path, caplog):
    # Station b's config carrying station a's credentials: the ACL lets user a publish only as a.
    caplog.set_level(logging.ERROR, logger="edge.link.publisher")
    collector = Collector(broker)
    outbox = Outbox(tmp_path / "o.db", station="b")
    outbox.emit(draft("cleaning", time.time(), {"restroom": "ladies"}))
    publisher = Publisher(outbox, settings(broker, username="a"), station="b", birth=BIRTH)
    publisher.start()
    try:
        assert wait_until(lambda: publisher.rejected >= 2)
        assert publisher.published == 0
    finally:
        publisher.stop()
        collector.close()
    assert outbox.stats().depth == 1
    assert collector.events == []
    outbox.close()
    assert any("broker rejected" in r.getMessage() and "Not authorized" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("protocol", "window"), [("5", 1), ("3.1.1", 100)])
def test_every_event_arrives_in_order_over_either_protocol_and_any_window(broker, tmp_path, protocol, window):
    collector = Collector(broker)
    outbox = Outbox(tmp_path / "o.db", station="a")
    publisher = Publisher(outbox, settings(broker, protocol=protocol), station="a", birth=BIRTH, window=window, rate=1e6)
    publisher.start()
    try:
        ids = [outbox.store(draft("rating", time.time(), rating(1 + i % 5))).id for i in range(150)]
        assert collector.wait_for(lambda c: len(c.events) >= 150)
        assert [e["id"] for e in collector.events] == ids  # no duplicates without an outage, and in order
        assert wait_until(lambda: outbox.stats().depth == 0)
        assert publisher.published == 150
    finally:
        publisher.stop()
        collector.close()
        outbox.close()


def test_credentials_file_readable_by_others_refuses_to_start(broker, tmp_path):
    path = tmp_path / "credentials"
    path.write_text(f"a:{broker.users['a']}")
    path.chmod(0o644)
    outbox = Outbox(tmp_path / "o.db", station="a")
    with pytest.raises(ConfigError, match="accessible by group or others"):
        Publisher(outbox, MqttSettings(url=broker.url, credentials_file=path), station="a", birth=BIRTH)
    path.chmod(0o600)
    publisher = Publisher(outbox, MqttSettings(url=broker.url, credentials_file=path), station="a", birth=BIRTH)
    publisher.start()
    try:
        assert publisher.wait_connected(10)
    finally:
        publisher.stop()
        outbox.close()


def test_a_missing_ca_file_fails_at_start_up_naming_the_key(tmp_path):
    outbox = Outbox(tmp_path / "o.db", station="a")
    with pytest.raises(ConfigError, match="mqtt.ca_file"):
        Publisher(outbox, MqttSettings(url="mqtts://127.0.0.1:1", ca_file=tmp_path / "ca.pem"), station="a", birth=BIRTH)
    outbox.close()


def test_a_backlog_is_replayed_no_faster_than_the_configured_rate(broker, tmp_path):
    # The publisher's clock is frozen: only the burst may go until the test lets time pass.
    now = [1000.0]
    collector = Collector(broker)
    outbox = Outbox(tmp_path / "o.db", station="a")
    for _ in range(120):
        outbox.emit(draft("rating", time.time(), rating()))
    publisher = Publisher(
        outbox, settings(broker), station="a", birth=BIRTH, window=100, rate=50.0, monotonic=lambda: now[0]
    )
    publisher.start()
    try:
        assert collector.wait_for(lambda c: len(c.events) == 50)
        assert not collector.wait_for(lambda c: len(c.events) > 50, timeout=0.3)
        now[0] += 1.0  # one second: 50 more
        assert collector.wait_for(lambda c: len(c.events) == 100)
        assert not collector.wait_for(lambda c: len(c.events) > 100, timeout=0.2)
        now[0] += 1.0
        assert collector.wait_for(lambda c: len(c.events) == 120)
    finally:
        now[0] += 10.0  # let the goodbye's deadline pass normally
        publisher.stop()
        collector.close()
        outbox.close()
