"""Building and parsing protocol v1 topics: ``forecourt/v1/<station>/<channel>[/<kind>]``."""

import re
from typing import Literal, NamedTuple

from forecourt.errors import ProtocolError

ROOT = "forecourt/v1"
STATION_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
Channel = Literal["status", "event", "health", "config_state", "config", "ack"]
CHANNELS: tuple[str, ...] = ("status", "event", "health", "config_state", "config", "ack")
# Who may publish on each channel: stations publish UPLINK, collectors publish DOWNLINK (the broker's ACL says so too).
UPLINK: tuple[str, ...] = ("status", "event", "health", "config_state")
DOWNLINK: tuple[str, ...] = ("config", "ack")


class Topic(NamedTuple):
    station: str
    channel: Channel
    kind: str | None = None

    def __str__(self) -> str:
        tail = f"/{self.kind}" if self.kind else ""
        return f"{ROOT}/{self.station}/{self.channel}{tail}"


def check_station_id(station: str) -> str:
    if not isinstance(station, str) or not STATION_ID.fullmatch(station):
        raise ProtocolError(
            f"station id {station!r} must match [a-z0-9][a-z0-9-]{{0,63}} "
            "(lower-case letters, digits and '-', at most 64 characters)"
        )
    return station


def status_topic(station: str) -> str:
    return str(Topic(check_station_id(station), "status"))


def health_topic(station: str) -> str:
    return str(Topic(check_station_id(station), "health"))


def config_topic(station: str) -> str:
    return str(Topic(check_station_id(station), "config"))


def config_state_topic(station: str) -> str:
    """Where a station says, retained, which settings document it applied or rejected (forecourt.protocol.fleet)."""
    return str(Topic(check_station_id(station), "config_state"))


def ack_topic(station: str) -> str:
    """Where the collector tells a station which of its events HQ has stored (docs/PROTOCOL.md, "Storage acknowledgements")."""
    return str(Topic(check_station_id(station), "ack"))


def event_topic(station: str, kind: str) -> str:
    return str(Topic(check_station_id(station), "event", kind))


def station_filter(station: str = "+") -> str:
    """A subscription filter for everything one station (or, with ``+``, every station) publishes."""
    return f"{ROOT}/{station}/#"


def parse_topic(topic: str) -> Topic:
    parts = topic.split("/")
    if len(parts) < 4 or "/".join(parts[:2]) != ROOT:
        raise ProtocolError(f"topic {topic!r} is not under {ROOT}/<station>/...")
    station, channel, rest = parts[2], parts[3], parts[4:]
    check_station_id(station)
    if channel not in CHANNELS:
        raise ProtocolError(f"topic {topic!r}: unknown channel {channel!r} (expected one of {', '.join(CHANNELS)})")
    if channel == "event":
        if len(rest) != 1 or not rest[0]:
            raise ProtocolError(f"topic {topic!r}: an event topic ends in /event/<kind>")
        return Topic(station, "event", rest[0])
    if rest:
        raise ProtocolError(f"topic {topic!r}: nothing may follow /{channel}")
    return Topic(station, channel)  # type: ignore[arg-type]
