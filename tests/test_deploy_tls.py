"""Mutual TLS on the shipped broker config, with certificates made by the steps in docs/INSTALL.md."""

import queue
import ssl

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from forecourt.errors import ConfigError
from forecourt.tls import client_context
from tests.deploy_kit import Pki, ShippedBroker, pki_fixture, rogue_pki_fixture, shipped_fixture  # noqa: F401
from tests.mqtt import Recorder, Refused, publish


def tls_connect(broker: ShippedBroker, username: str | None, context: ssl.SSLContext, timeout: float = 5.0) -> mqtt.Client:
    """A started client on the TLS listener after a successful CONNACK; else :class:`Refused` saying why."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTProtocolVersion.MQTTv5)
    client.tls_set_context(context)
    if username is not None:
        client.username_pw_set(username, broker.users[username])
    outcome: queue.Queue[tuple[str, str]] = queue.Queue()
    client.on_connect = lambda _c, _u, _f, reason, _p: outcome.put(("connack", str(reason)))
    # With TLS 1.3 the broker checks the client's certificate after the client's handshake is done:
    # a refusal then arrives as a closed connection instead of an exception from connect().
    client.on_disconnect = lambda _c, _u, _f, reason, _p: outcome.put(("closed", str(reason)))
    try:
        client.connect(broker.host, broker.tls_port, keepalive=30)
    except ssl.SSLError as err:
        raise Refused(f"handshake failed: {err}") from None
    client.loop_start()
    try:
        kind, reason = outcome.get(timeout=timeout)
    except queue.Empty:
        client.loop_stop()
        raise TimeoutError("neither CONNACK nor a closed connection") from None
    if kind == "connack" and reason == "Success":
        return client
    client.loop_stop()
    raise Refused(f"{kind}: {reason}")


def station_context(pki: Pki, name: str, *, trust: Pki | None = None) -> ssl.SSLContext:
    return client_context(ca_file=(trust or pki).ca, cert_file=pki.cert(name), key_file=pki.key(name))


def test_documented_certificates_give_a_working_mutual_tls_link(shipped, pki):
    collector = Recorder(shipped)  # on the loopback listener, as at HQ
    station = tls_connect(shipped, "a", station_context(pki, "a"))
    try:
        publish(station, "forecourt/v1/a/event/rating", b'{"over": "tls"}')
        assert collector.wait_for(lambda msgs: ("forecourt/v1/a/event/rating", b'{"over": "tls"}', False) in msgs)
    finally:
        station.disconnect()
        station.loop_stop()
        collector.close()


def test_certificate_from_another_ca_is_refused_even_with_the_right_password(shipped, pki, rogue_pki):
    with pytest.raises(Refused):
        tls_connect(shipped, "a", station_context(rogue_pki, "a", trust=pki))
    assert "certificate verify failed" in shipped.log


def test_client_without_a_certificate_is_refused(shipped, pki):
    with pytest.raises(Refused):
        tls_connect(shipped, "a", client_context(ca_file=pki.ca))
    assert "did not return a certificate" in shipped.log


def test_a_valid_certificate_alone_is_not_enough(shipped, pki):
    with pytest.raises(Refused, match="Not authorized"):
        tls_connect(shipped, None, station_context(pki, "a"))


def test_station_refuses_a_broker_signed_by_another_ca(shipped, pki, rogue_pki):
    # What a man in the middle with his own CA looks like to a station.
    with pytest.raises(Refused, match="CERTIFICATE_VERIFY_FAILED"):
        tls_connect(shipped, "a", station_context(pki, "a", trust=rogue_pki))


def test_station_checks_the_broker_name(shipped, pki):
    context = station_context(pki, "a")
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTProtocolVersion.MQTTv5)
    client.tls_set_context(context)
    client.username_pw_set("a", shipped.users["a"])
    # The broker certificate is for IP:127.0.0.1 only; "localhost" resolves there but is not its name.
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch|doesn't match"):
        client.connect("localhost", shipped.tls_port)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"ca_file": "missing.crt"}, r"mqtt\.ca_file: .*missing\.crt: no such file"),
        ({"ca_file": "a.key"}, r"mqtt\.ca_file: .*a\.key is not a PEM CA certificate"),
        ({"cert_file": "a.crt", "key_file": "b.key"}, r"not a PEM certificate and the private key that belongs to it"),
        ({"key_file": "a.key"}, r"mqtt\.key_file is set but mqtt\.cert_file is not"),
        ({"cert_file": "a.crt", "key_file": "gone.key"}, r"mqtt\.key_file: .*gone\.key: no such file"),
    ],
)
def test_bad_tls_files_are_named_in_the_error(pki, files, message):
    with pytest.raises(ConfigError, match=message):
        client_context(**{key: pki.directory / name for key, name in files.items()})

