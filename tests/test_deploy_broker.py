"""The shipped Mosquitto config (systemd/mosquitto/) on a real broker: who may connect and publish what."""

import logging
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import StationConfig
from edge.link.outbox import Outbox
from edge.link.publisher import Publisher
from forecourt.broker import TUNING
from forecourt.dynsec import dynsec_text
from forecourt.protocol import Status, format_epoch
from forecourt.tls import client_context
from tests.deploy_kit import SHIPPED_CONF, SHIPPED_DROP_IN, SHIPPED_DYNSEC, pki_fixture, shipped_fixture  # noqa: F401
from tests.mqtt import Recorder, Refused, connect, publish

BIRTH = Status(state="online", version="test", config_hash="deploy", started_at=format_epoch(0))


def shipped_settings() -> list[list[str]]:
    return [line.split() for line in SHIPPED_CONF.read_text().splitlines() if line and not line.startswith("#")]


def test_shipped_rules_are_the_rules_the_code_generates_and_tests():
    assert SHIPPED_DYNSEC.read_text() == dynsec_text()


def test_shipped_config_names_the_shipped_rules_and_refuses_anonymous_clients():
    settings = shipped_settings()
    assert ["plugin_opt_config_file", "/etc/mosquitto/forecourt-dynsec.json"] in settings
    assert not [s for s in settings if s[0] in {"acl_file", "password_file"}]  # acl_file cannot refuse a SUBSCRIBE
    assert ["allow_anonymous", "false"] in settings
    # Every listener after the TLS one inherits nothing: the TLS listener must demand a certificate itself.
    tls_listener = settings.index(["listener", "8883"])
    assert ["require_certificate", "true"] in settings[tls_listener:]


def test_shipped_limits_are_the_ones_the_code_tests():
    values = {s[0]: s[1:] for s in shipped_settings()}
    assert {key: values.get(key) for key in TUNING} == {key: [str(value)] for key, value in TUNING.items()}
    assert values["autosave_on_changes"] == ["false"]


def test_every_shipped_listener_uses_the_username_as_client_id_and_the_plugin_comes_after_them():
    settings = shipped_settings()
    starts = [i for i, s in enumerate(settings) if s[0] == "listener"]
    blocks = [settings[a:b] for a, b in zip(starts, [*starts[1:], len(settings)], strict=True)]
    assert len(blocks) == 2
    for block in blocks:  # 2.0.11 keeps both per listener
        assert ["use_username_as_clientid", "true"] in block and ["max_qos", "1"] in block
    plugin = next(i for i, s in enumerate(settings) if s[0] == "plugin")
    assert plugin > starts[-1]  # before any listener, 2.0.11 opens a default listener on 1883


def test_systemd_drop_in_raises_the_descriptor_limit_for_30000_stations():
    lines = [line.strip() for line in SHIPPED_DROP_IN.read_text().splitlines() if not line.startswith("#")]
    assert "[Service]" in lines and "LimitNOFILE=65536" in lines


def test_station_over_tls_cannot_take_over_the_collector_on_loopback(shipped, pki):
    collector = Recorder(shipped, username="collector", client_id="forecourt-collector-1")
    # On the broker the collector's client id is its username; the TLS listener must rename the intruder too.
    intruder = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="collector", protocol=mqtt.MQTTProtocolVersion.MQTTv5)
    intruder.tls_set_context(client_context(ca_file=pki.ca, cert_file=pki.cert("a"), key_file=pki.key("a")))
    intruder.username_pw_set("a", shipped.users["a"])
    connected = threading.Event()
    intruder.on_connect = lambda *_: connected.set()
    intruder.connect(shipped.host, shipped.tls_port, keepalive=30)
    intruder.loop_start()
    b = connect(shipped, "b")
    try:
        assert connected.wait(5)
        publish(b, "forecourt/v1/b/event/rating", b'{"during": true}')
        assert collector.wait_for(lambda msgs: len(msgs) == 1)
        assert collector.disconnects == []
    finally:
        intruder.disconnect()
        intruder.loop_stop()
        b.loop_stop()
        collector.close()


def test_station_cannot_publish_into_another_stations_topics(shipped):
    collector = Recorder(shipped)
    forger = connect(shipped, "a")
    acks: list[str] = []
    forger.on_publish = lambda _c, _u, _mid, reason, _p: acks.append(str(reason))
    forger.publish("forecourt/v1/b/event/rating", b'{"forged": true}', qos=1).wait_for_publish(5)
    # Closed before the honest connection: under one username, a reconnecting forger would push it out.
    forger.disconnect()
    forger.loop_stop()
    honest = connect(shipped, "a")
    try:
        publish(honest, "forecourt/v1/a/event/rating", b'{"own": true}')
        assert collector.wait_for(lambda msgs: any(t == "forecourt/v1/a/event/rating" for t, _, _ in msgs))
        # The own message was sent after the forged one, so the forged one had its chance to arrive.
        assert [t for t, _, _ in collector.messages] == ["forecourt/v1/a/event/rating"]
        assert acks == ["Not authorized"]
    finally:
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
