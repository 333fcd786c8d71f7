"""The collector config (``collector.toml``), validated once at start-up."""

import re
from pathlib import Path

from pydantic import Field, field_validator

from edge.config import MqttSettings
from forecourt.settings import Section, apply_overrides, load_toml, validate


class CollectorMqtt(MqttSettings):
    username: str | None = Field("collector", description="MQTT username of the collector")
    client_id: str = Field("forecourt-collector-1", description="Stable client id: the persistent session is keyed on it")
    share_group: str = Field("forecourt", description="Shared-subscription group; collectors in one group split the fleet")
    session_expiry_s: int = Field(7 * 24 * 3600, ge=0, description="How long the broker keeps our queue while we are away")


class DatabaseSettings(Section):
    path: Path = Field(Path("/var/lib/forecourt/collector.db"), description="SQLite database file")


class HttpSettings(Section):
    listen: str = Field("127.0.0.1:8080", description="HOST:PORT the API and dashboard listen on")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        if not re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}", value):
            raise ValueError(f"{value!r} is not HOST:PORT, e.g. 127.0.0.1:8080")
        return value

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


class CollectorConfig(Section):
    mqtt: CollectorMqtt = Field(default_factory=CollectorMqtt, description="The chain's broker")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings, description="Where events and rollups live")
    http: HttpSettings = Field(default_factory=HttpSettings, description="The HQ API and dashboard")


def load_collector_config(
    path: str | Path, *, broker_url: str | None = None, database: str | None = None, listen: str | None = None
) -> CollectorConfig:
    """Read, override (flag > ``FORECOURT_*`` environment > file) and validate a collector config."""
    data = apply_overrides(
        load_toml(path),
        {
            "mqtt.url": ("FORECOURT_BROKER_URL", broker_url),
            "database.path": ("FORECOURT_DATABASE", database),
            "http.listen": ("FORECOURT_LISTEN", listen),
        },
    )
    return validate(CollectorConfig, data, str(path))
