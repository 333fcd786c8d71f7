"""The publisher over mutual TLS on the shipped broker config, with the certificates docs/INSTALL.md makes."""

import logging
import time

from edge.config import MqttSettings
from edge.link.outbox import Outbox
from edge.link.publisher import Publisher
from forecourt.protocol import Status, format_epoch
from tests.deploy_kit import Pki, ShippedBroker, pki_fixture, rogue_pki_fixture, shipped_fixture  # noqa: F401
from tests.drafting import draft
from tests.link_helpers import Collector

BIRTH = Status(state="online", version="t", config_hash="t", started_at=format_epoch(0))


def tls_settings(broker: ShippedBroker, client: Pki, trust: Pki) -> MqttSettings:
    return MqttSettings(
        url=f"mqtts://127.0.0.1:{broker.tls_port}", password=broker.users["a"],
        ca_file=trust.ca, cert_file=client.cert("a"), key_file=client.key("a"),
        reconnect_min_s=0.05, reconnect_max_s=0.3,
    )


def test_events_arrive_over_mutual_tls(shipped, pki):
    collector = Collector(shipped)
    outbox = Outbox(shipped.directory / "outbox.db", station="a")
    publisher = Publisher(outbox, tls_settings(shipped, pki, pki), station="a", birth=BIRTH)
    publisher.start()
    try:
        event = outbox.store(draft("cleaning", time.time(), {"restroom": "ladies"}))
        assert collector.wait_for(lambda c: event.id in c.ids()), publisher.last_error
    finally:
        publisher.stop()
        collector.close()
        outbox.close()


def test_a_broker_signed_by_another_ca_is_a_clear_error_and_never_connected(shipped, pki, rogue_pki, caplog):
    caplog.set_level(logging.ERROR, logger="edge.link.publisher")
    outbox = Outbox(shipped.directory / "outbox.db", station="a")
    outbox.emit(draft("cleaning", time.time(), {"restroom": "ladies"}))
    publisher = Publisher(outbox, tls_settings(shipped, pki, rogue_pki), station="a", birth=BIRTH)
    publisher.start()
    try:
        deadline = time.monotonic() + 10
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not publisher.connected and publisher.published == 0
    finally:
        publisher.stop()
    assert outbox.stats().depth == 1
    outbox.close()
    message = caplog.records[0].getMessage()
    assert f"TLS handshake with broker 127.0.0.1:{shipped.tls_port} failed" in message
    assert "CERTIFICATE_VERIFY_FAILED" in message
