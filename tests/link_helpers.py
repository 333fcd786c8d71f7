"""Helpers for the edge-link tests: a station config on a test broker, and an HQ-like subscriber that
keeps a persistent session (so messages published while it is away, or while the broker restarts,
are queued for it) and records every event it receives."""

import json
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.config import StationConfig
from forecourt.broker import Mosquitto, free_port
from forecourt.protocol import build_acks, encode_ack
from tests.waiting import wait_until


class Unreachable:
    """Stands in for a broker in :func:`station_config` when a test wants the link down: a free port nobody serves."""

    def __init__(self) -> None:
        self.url = f"mqtt://127.0.0.1:{free_port()}"
        self.users = {"a": "unused"}


def station_config(broker: "Mosquitto | Unreachable", tmp_path: Path, station: str = "a", **sections: Any) -> StationConfig:
    """A station on ``broker`` with fast reconnects (tests wait on conditions, never on long backoffs)."""
    data: dict[str, Any] = {
        "station": {"id": station},
        "mqtt": {"url": broker.url, "password": broker.users.get(station), "reconnect_min_s": 0.05, "reconnect_max_s": 0.3},
        "outbox": {"path": str(tmp_path / f"{station}-outbox.db"), "replay_rate": 100_000},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values} if isinstance(values, dict) else values
    return StationConfig.model_validate(data)


class Collector:
    """Persistent-session QoS 1 subscriber as HQ runs it; reconnects by itself when the broker restarts."""

    def __init__(
        self, broker: Mosquitto, topic: str = "forecourt/v1/#", client_id: str = "hq-test", *, acknowledge: bool = True
    ) -> None:
        self.acknowledge = acknowledge
        self.events: list[dict[str, Any]] = []
        self.statuses: list[tuple[dict[str, Any], bool]] = []
        self.health: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._topic = topic
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTProtocolVersion.MQTTv5)
        self.client.username_pw_set("collector", broker.users["collector"])
        self.client.reconnect_delay_set(0.05, 0.2)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        # clean_start=False from the first CONNECT: Mosquitto 2.0.11 does not restore across its own restart
        # a v5 session that began clean, even with an expiry interval (found here; HQ's collector does the same).
        self.client.connect(broker.host, broker.port, keepalive=30, clean_start=False, properties=props)
        self.client.loop_start()
        if not self._subscribed.wait(5):
            raise TimeoutError("no CONNACK with a session, nor a SUBACK")

    def _on_connect(self, client, _userdata, flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            return
        if flags.session_present:  # the broker kept our subscription and queue
            self._subscribed.set()
        else:
            client.subscribe(self._topic, qos=1)

    def _on_message(self, client, _userdata, msg: mqtt.MQTTMessage) -> None:
        if msg.topic.endswith(("/ack", "/config")):
            return  # our own downlink
        body = json.loads(msg.payload)
        with self._lock:
            if msg.topic.endswith("/status"):
                self.statuses.append((body, bool(msg.retain)))
            elif msg.topic.endswith("/health"):
                self.health.append(body)
            else:
                self.events.append(body)
        if self.acknowledge and not msg.topic.endswith("/status"):
            # As HQ does once it has stored it: the station may now forget it.
            seqs = [body["seq"]] if "seq" in body else []
            ids = [] if seqs else [body["id"]]
            for ack in build_acks(body["station"], stored=seqs, health=ids, now=datetime.now(UTC)):
                client.publish(*encode_ack(ack), qos=1)

    def ids(self) -> set[str]:
        with self._lock:
            return {e["id"] for e in self.events}

    def duplicates(self) -> int:
        with self._lock:
            return sum(n - 1 for n in Counter(e["id"] for e in self.events).values())

    def wait_for(self, predicate, timeout: float = 20.0) -> bool:
        return wait_until(lambda: predicate(self), timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def rating(score: int = 3) -> dict[str, Any]:
    return {"kiosk": "shop", "location": "shop", "score": score, "scale": 5}
