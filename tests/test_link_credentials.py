"""Credentials and broker address: a private credentials file or inline values; bad input says what to fix."""

import pytest

from edge.config import MqttSettings
from forecourt.connection import broker_address, read_credentials_file
from forecourt.errors import ConfigError


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker.example.com", ("broker.example.com", 1883, False)),
        ("mqtts://broker.example.com", ("broker.example.com", 8883, True)),
        ("mqtt://127.0.0.1:18830/", ("127.0.0.1", 18830, False)),
        ("mqtts://10.0.0.2:9883", ("10.0.0.2", 9883, True)),
    ],
)
def test_broker_address(url, expected):
    address = broker_address(url)
    assert (address.host, address.port, address.tls) == expected


def test_a_credentials_file_readable_by_others_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "credentials"
    path.write_text("a:secret\n")
    path.chmod(0o640)
    with pytest.raises(ConfigError, match=rf"mode 0640.*chmod 600 {path}"):
        read_credentials_file(path)
    path.chmod(0o600)
    assert read_credentials_file(path) == ("a", "secret")


@pytest.mark.parametrize("text", ["just-a-password", ":secret", "a:", ""])
def test_a_malformed_credentials_file_names_the_format(tmp_path, text):
    path = tmp_path / "credentials"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="username:password"):
        read_credentials_file(path)


def test_a_missing_credentials_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="mqtt.credentials_file: cannot read"):
        read_credentials_file(tmp_path / "nope")


def test_the_file_wins_and_the_username_defaults_to_the_station_id(tmp_path):
    path = tmp_path / "credentials"
    path.write_text("station-7:from-file")
    path.chmod(0o600)
    assert MqttSettings(password="inline").credentials("a") == ("a", "inline")
    assert MqttSettings(username="u", password="p").credentials("a") == ("u", "p")
    assert MqttSettings(password="inline", credentials_file=path).credentials("a") == ("station-7", "from-file")


def test_client_certificate_needs_its_key_and_backoff_bounds_are_ordered():
    with pytest.raises(ValueError, match="cert_file and key_file"):
        MqttSettings(cert_file="c.pem")
    with pytest.raises(ValueError, match="reconnect_max_s"):
        MqttSettings(reconnect_min_s=5, reconnect_max_s=1)
