"""The shipped Mosquitto config (systemd/mosquitto/) on a real broker: who may connect and publish what."""

import logging
import time

import pytest

from edge.config import StationConfig
from edge.link.outbox import Outbox
from edge.link.publisher import Publisher
from forecourt.broker import acl_text
from forecourt.protocol import Status, format_epoch
from tests.deploy_kit import SHIPPED_ACL, SHIPPED_CONF, pki_fixture, shipped_fixture  # noqa: F401
from tests.mqtt import Recorder, Refused, connect, publish

BIRTH = Status(state="online", version="test", config_hash="deploy", started_at=format_epoch(0))


def test_shipped_acl_is_the_acl_the_code_generates_and_tests():
    assert SHIPPED_ACL.read_text() == acl_text()


def test_shipped_config_names_the_shipped_acl_and_refuses_anonymous_clients():
    settings = [line.split() for line in SHIPPED_CONF.read_text().splitlines() if line and not line.startswith("#")]
    assert ["acl_file", "/etc/mosquitto/forecourt.acl"] in settings
    assert ["allow_anonymous", "false"] in settings
    # Every listener after the TLS one inherits nothing: the TLS listener must demand a certificate itself.
    tls_listener = settings.index(["listener", "8883"])
    assert ["require_certificate", "true"] in settings[tls_listener:]


def test_station_cannot_publish_into_another_stations_topics(shipped):
    collector = Recorder(shipped)
    forger = connect(shipped, "a")
    acks: list[str] = []
    forger.on_publish = lambda _c, _u, _mid, reason, _p: acks.append(str(reason))
    forger.publish("forecourt/v1/b/event/rating", b'{"forged": true}', qos=1)
    honest = connect(shipped, "a")
    try:
        publish(honest, "forecourt/v1/a/event/rating", b'{"own": true}')
        assert collector.wait_for(lambda msgs: any(t == "forecourt/v1/a/event/rating" for t, _, _ in msgs))
        # The own message was sent after the forged one, so the forged one had its chance to arrive.
        assert [t for t, _, _ in collector.messages] == ["forecourt/v1/a/event/rating"]
        assert acks == ["Not authorized"]
    finally:
        forger.loop_stop()
        honest.loop_stop()
        collector.close()


def test_anonymous_clients_are_refused(shipped):
    with pytest.raises(Refused, match="Not authorized"):
        connect(shipped, None)


def test_wrong_password_is_refused_and_the_edge_says_so(shipped, tmp_path, caplog):
    credentials = tmp_path / "credentials"
    credentials.write_text("a:not-the-password\n")
    credentials.chmod(0o600)
    settings = StationConfig.model_validate(
        {"station": {"id": "a"}, "mqtt": {"url": shipped.url, "credentials_file": str(credentials)}}
    ).mqtt
    outbox = Outbox(tmp_path / "outbox.db", station="a")
    publisher = Publisher(outbox, settings, station="a", birth=BIRTH)
    caplog.set_level(logging.INFO, logger="edge.link.publisher")
    publisher.start()
    try:
        deadline = time.monotonic() + 10
        while publisher.refused == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert publisher.refused >= 1 and not publisher.connected
    finally:
        publisher.stop()
        outbox.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("refused" in e and "'a'" in e and f"127.0.0.1:{shipped.port}" in e for e in errors), errors
    assert not any("connected to" in r.getMessage() for r in caplog.records)
    assert "not authorised" in shipped.log
