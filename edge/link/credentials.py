"""Who the station is to the broker: its address and username/password (from the config or a private file)."""

import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from edge.config import MqttSettings
from forecourt.errors import ConfigError


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool


def broker_address(url: str) -> BrokerAddress:
    """``mqtt://host[:1883]`` or ``mqtts://host[:8883]``."""
    parts = urlsplit(url)
    tls = parts.scheme == "mqtts"
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(f"mqtt.url: {url!r} is not mqtt://host:port or mqtts://host:port")
    return BrokerAddress(parts.hostname, parts.port or (8883 if tls else 1883), tls)


def read_credentials_file(path: Path) -> tuple[str, str]:
    """``username:password`` from a file nobody but its owner may read (like ssh refuses a public key file)."""
    try:
        mode = path.stat().st_mode
        text = path.read_text().strip()
    except OSError as err:
        raise ConfigError(f"mqtt.credentials_file: cannot read {path}: {err.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"mqtt.credentials_file: {path} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); "
            f"run: chmod 600 {path}"
        )
    username, sep, password = text.partition(":")
    if not sep or not username or not password:
        raise ConfigError(f"mqtt.credentials_file: {path} must hold one line 'username:password'")
    return username, password


def resolve_credentials(settings: MqttSettings, default_username: str) -> tuple[str, str | None]:
    """The file wins over inline values; the username defaults to the station id."""
    if settings.credentials_file is not None:
        return read_credentials_file(settings.credentials_file)
    return settings.username or default_username, settings.password
