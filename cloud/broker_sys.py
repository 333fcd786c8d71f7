"""The broker's own figures, read from Mosquitto's ``$SYS/broker/...`` topics by the collector's MQTT client.

Mosquitto publishes them (retained) every ``sys_interval`` seconds, 10 by default, so a value is at most that
old plus one scrape. Only the topics below are kept: they are the ones an operator pages on (clients gone,
queues growing, messages dropped). Mosquitto's own ``load/...`` averages are left out because Prometheus
computes rates from the counters better than a fixed 1/5/15-minute window.

:func:`parse_sys` is pure; :class:`BrokerSys` keeps the latest value of each for the scrape, across threads.
"""

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

SYS_FILTER = "$SYS/broker/#"
SYS_PREFIX = "$SYS/broker/"


@dataclass(frozen=True)
class SysFigure:
    metric: str  # Prometheus name, without the forecourt_broker_ prefix
    kind: str  # "gauge" or "counter" (a counter's name gains _total on the way out)
    help: str


# topic under $SYS/broker/ -> figure. Counters are Mosquitto's totals since it started: Prometheus sees a
# broker restart as a counter reset, as it should.
FIGURES: dict[str, SysFigure] = {
    "uptime": SysFigure("uptime_seconds", "gauge", "Seconds since the broker started"),
    "clients/connected": SysFigure("clients_connected", "gauge", "Clients connected now"),
    "clients/disconnected": SysFigure("clients_disconnected", "gauge", "Persistent clients disconnected now (their sessions kept)"),
    "clients/maximum": SysFigure("clients_maximum", "gauge", "Most clients connected at once since the broker started"),
    "subscriptions/count": SysFigure("subscriptions", "gauge", "Subscriptions held by the broker"),
    "retained messages/count": SysFigure("retained_messages", "gauge", "Retained messages held by the broker"),
    "messages/stored": SysFigure("messages_stored", "gauge", "Messages held for delivery, retained ones included"),
    "store/messages/bytes": SysFigure("stored_bytes", "gauge", "Payload bytes of the messages held"),
    "messages/received": SysFigure("messages_received", "counter", "Messages of any kind received"),
    "messages/sent": SysFigure("messages_sent", "counter", "Messages of any kind sent"),
    "publish/messages/received": SysFigure("publish_received", "counter", "PUBLISH messages received"),
    "publish/messages/sent": SysFigure("publish_sent", "counter", "PUBLISH messages sent"),
    "publish/messages/dropped": SysFigure("publish_dropped", "counter", "PUBLISH messages dropped (queues full, clients gone)"),
    "bytes/received": SysFigure("received_bytes", "counter", "Bytes received"),
    "bytes/sent": SysFigure("sent_bytes", "counter", "Bytes sent"),
}
VERSION_TOPIC = "version"
_NUMBER = re.compile(r"\s*(-?\d+(?:\.\d+)?)")  # "1234 seconds" -> 1234


def parse_sys(topic: str, payload: bytes) -> tuple[str, float | str] | None:
    """``($SYS topic suffix, value)`` for a topic we keep; None for the rest and for unreadable payloads."""
    if not topic.startswith(SYS_PREFIX):
        return None
    suffix = topic[len(SYS_PREFIX):]
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if suffix == VERSION_TOPIC:
        return suffix, text.removeprefix("mosquitto version ").strip()[:40]
    if suffix not in FIGURES or not (match := _NUMBER.match(text)):
        return None
    return suffix, float(match.group(1))


class BrokerSys:
    """The latest ``$SYS`` figures; ``update`` from the MQTT thread, ``snapshot`` from the scrape."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, float] = {}
        self.version: str | None = None
        self.updated_at: float | None = None  # when the last $SYS message arrived (epoch seconds)
        self.refused = False  # the broker refused our $SYS subscription (an older ACL)

    def update(self, topic: str, payload: bytes) -> bool:
        """Keep one ``$SYS`` message; whether it was one we keep."""
        parsed = parse_sys(topic, payload)
        if parsed is None:
            return False
        suffix, value = parsed
        with self._lock:
            if isinstance(value, str):
                self.version = value
            else:
                self._values[suffix] = value
            self.updated_at = self._clock()
        return True

    def snapshot(self) -> tuple[dict[str, float], str | None, float | None]:
        with self._lock:
            return dict(self._values), self.version, self.updated_at
