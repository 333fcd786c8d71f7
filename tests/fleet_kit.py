"""Helpers for the fleet rollout acceptance test: a light station, a watcher of config states, a collector process.

A :class:`LightStation` is a real MQTT client that judges HQ's documents with the station's own receiver
(edge/fleet/receiver.py) over a small file config, without sensors, camera or outbox: twenty of them cost
the machine little, and they answer exactly as a station does (rev rules, rejections by key, kept document).
"""

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import StationConfig
from edge.fleet.receiver import ConfigReceiver
from edge.fleet.store import AppliedStore
from forecourt import children
from forecourt.broker import Mosquitto, free_port, wait_for_port
from forecourt.protocol import Status, config_topic, decode, encode, format_epoch, parse_topic, status_topic
from tests.demo_process import REPO


class LightStation:
    """``connect()`` says online (with an offline will) and takes its retained document; ``disconnect()``
    says offline first, as a stopping station does. What it applied is kept in ``<dir>/<id>.fleet.json``."""

    def __init__(self, broker: Mosquitto, station: str, directory: Path) -> None:
        self.broker = broker
        self.station = station
        self.file_config = StationConfig.model_validate({
            "station": {"id": station}, "restrooms": [{"id": "ladies", "button_pin": 5, "interval_min": 60}],
        })
        self.store = AppliedStore(directory / f"{station}.fleet.json")
        self.receiver: ConfigReceiver | None = None
        self.client: mqtt.Client | None = None
        self._state: bytes | None = None

    def connect(self) -> None:
        self.receiver = ConfigReceiver(self.file_config, self.store, apply=lambda _effective, _changes: [])
        self.receiver.start()  # the kept document, as after a restart
        if self.receiver.state is not None:
            self._state = encode(self.receiver.state, self.station)[1]
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.station, protocol=mqtt.MQTTProtocolVersion.MQTTv5)
        client.username_pw_set(self.station, self.broker.users[self.station])
        client.will_set(status_topic(self.station), encode(Status(state="offline"), self.station)[1], qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        subscribed = threading.Event()
        client.on_subscribe = lambda *_: subscribed.set()
        client.connect(self.broker.host, self.broker.port, keepalive=30)
        client.loop_start()
        self.client = client
        if not subscribed.wait(10):
            raise TimeoutError(f"{self.station}: no SUBACK")

    def _on_connect(self, client, _userdata, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            raise RuntimeError(f"{self.station}: refused: {reason_code}")
        client.subscribe(config_topic(self.station), qos=1)
        birth = Status(state="online", version="light", config_hash="file", started_at=format_epoch(time.time()))
        client.publish(*encode(birth, self.station), qos=1, retain=True)
        if self._state is not None:
            client.publish(f"forecourt/v1/{self.station}/config_state", self._state, qos=1, retain=True)

    def _on_message(self, client, _userdata, message) -> None:
        state = self.receiver.receive(message.payload)
        if state is not None:
            self._state = encode(state, self.station)[1]
            client.publish(f"forecourt/v1/{self.station}/config_state", self._state, qos=1, retain=True)

    def disconnect(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        client.publish(*encode(Status(state="offline"), self.station), qos=1, retain=True).wait_for_publish(5)
        client.disconnect()
        client.loop_stop()


class StateWatcher:
    """Every config state on the broker as it arrives: (station, rev, state, arrival on the monotonic clock)."""

    def __init__(self, broker: Mosquitto) -> None:
        self.seen: list[tuple[str, int, str, float]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="observer", protocol=mqtt.MQTTProtocolVersion.MQTTv5)
        self.client.username_pw_set("observer", broker.users["observer"])
        self.client.on_message = self._keep
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_connect = lambda c, *_: c.subscribe("forecourt/v1/+/config_state", qos=1)
        self.disconnects = 0  # a figure taken across a reconnection of the watcher would be its own delay
        self.client.on_disconnect = lambda *_: setattr(self, "disconnects", self.disconnects + 1)
        self.client.connect(broker.host, broker.port, keepalive=30)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise TimeoutError("no SUBACK")

    def _keep(self, _client, _userdata, message) -> None:
        arrived = time.monotonic()
        state = decode(message.topic, message.payload, now=datetime.now(UTC))
        with self._lock:
            self.seen.append((parse_topic(message.topic).station, state.rev, state.state, arrived))

    def first(self, station: str, rev: int, state: str = "applied") -> float | None:
        with self._lock:
            return next((at for s, r, st, at in self.seen if (s, r, st) == (station, rev, state)), None)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class CollectorProcess:
    """``forecourt collector`` as systemd runs it, on ``broker`` and ``db_path``; its log in ``<dir>/collector.log``."""

    def __init__(self, broker: Mosquitto, db_path: Path, directory: Path) -> None:
        self.port = free_port()
        self.log = directory / "collector.log"
        self.toml = directory / "collector.toml"
        self.toml.write_text(
            f'[mqtt]\nurl = "{broker.url}"\nusername = "collector"\npassword = "{broker.users["collector"]}"\n'
            f'[database]\npath = "{db_path}"\n[http]\nlisten = "127.0.0.1:{self.port}"\n'
            "[ingest]\nbatch_wait_ms = 5\nworker_process = false\n"  # one process: the machine has two cores
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> "CollectorProcess":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "forecourt", "collector", "--config", str(self.toml)], cwd=REPO,
            stdout=subprocess.DEVNULL, stderr=open(self.log, "ab"),  # noqa: SIM115 - lives with the process
            preexec_fn=children.die_with_parent(),
        )
        try:
            wait_for_port("127.0.0.1", self.port, timeout=60)  # it listens once ingest is subscribed
        except Exception:
            self.stop()
            raise RuntimeError(f"the collector did not start: {self.log.read_text(errors='replace')[-1500:]}") from None
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
