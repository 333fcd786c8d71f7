"""How either end reaches the chain's broker: URL, credentials, TLS and reconnect policy, read once.

The station's publisher and HQ's collector both build their paho clients from a :class:`BrokerConnection`
(each end's config adds only what that end reads), so a credentials file is checked by one rule, a
certificate is loaded by one function, and a bad value is one error message wherever it is set.
"""

import re
import ssl
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from forecourt.errors import ConfigError
from forecourt.settings import Section
from forecourt.tls import client_context

T = TypeVar("T")


class BrokerConnection(Section):
    SECTION: ClassVar[str] = "mqtt"  # the config section errors name (a second broker's section names itself)

    url: str = Field("mqtt://127.0.0.1:1883", description="Broker URL: mqtt://host:port or mqtts://host:port (TLS)")
    username: str | None = Field(None, description="MQTT username; the station id on a station")
    password: str | None = Field(None, description="MQTT password (prefer credentials_file)")
    credentials_file: Path | None = Field(
        None, description="File holding 'username:password'; must not be readable by group or others"
    )
    ca_file: Path | None = Field(None, description="CA certificate that signed the broker's certificate")
    cert_file: Path | None = Field(None, description="Client certificate for mutual TLS")
    key_file: Path | None = Field(None, description="Private key of the client certificate")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive; the last will fires ~1.5x after loss")
    connect_timeout_s: float = Field(10.0, gt=0, le=120, description="Give up a connection attempt after this long")
    reconnect_min_s: float = Field(1.0, gt=0, description="First wait before reconnecting; doubles per failure")
    reconnect_max_s: float = Field(60.0, gt=0, description="Longest wait between reconnection attempts (plus jitter)")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.fullmatch(r"mqtts?://[^/:]+(:\d{1,5})?/?", value):
            raise ValueError(f"{value!r} is not a broker URL like mqtt://host:1883 or mqtts://host:8883")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "BrokerConnection":
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError(f"reconnect_max_s: {self.reconnect_max_s} is below reconnect_min_s {self.reconnect_min_s}")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file: give both (mutual TLS) or neither")
        return self

    @property
    def address(self) -> "BrokerAddress":
        return broker_address(self.url)

    def credentials(self, default_username: str | None = None) -> tuple[str | None, str | None]:
        """The file wins over inline values; the username defaults to ``default_username``."""
        if self.credentials_file is not None:
            return self._named(lambda: read_credentials_file(self.credentials_file))
        return self.username or default_username, self.password

    def tls_context(self) -> ssl.SSLContext | None:
        """Built once, at start-up, so a missing or wrong certificate is a clear error now, not at the first handshake."""
        if not self.address.tls:
            return None
        return self._named(lambda: client_context(ca_file=self.ca_file, cert_file=self.cert_file, key_file=self.key_file))

    def _named(self, read: Callable[[], T]) -> T:
        """The readers name the ``mqtt`` section; a second broker's settings say their own."""
        try:
            return read()
        except ConfigError as err:
            if self.SECTION == "mqtt":
                raise
            raise ConfigError(str(err).replace("mqtt.", f"{self.SECTION}.")) from None


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
    path = Path(path)
    try:
        mode = path.stat().st_mode
        text = path.read_text().strip()
    except OSError as err:
        raise ConfigError(f"mqtt.credentials_file: cannot read {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"mqtt.credentials_file: {path} is not a text file holding 'username:password'") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"mqtt.credentials_file: {path} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); "
            f"run: chmod 600 {path}"
        )
    username, sep, password = text.partition(":")
    if not sep or not username or not password:
        raise ConfigError(f"mqtt.credentials_file: {path} must hold one line 'username:password'")
    return username, password
