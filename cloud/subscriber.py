"""The MQTT side of ingest: a persistent MQTT v5 session on a shared subscription, messages queued to one
writer thread that stores them in batches and acknowledges each only after its batch is committed.

A collector killed between receipt and commit therefore loses nothing: the broker still holds the
unacknowledged messages in our session and redelivers them when we come back under the same client id.
"""

import logging
import queue
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from cloud.config import CollectorMqtt, IngestSettings
from cloud.ingest import BatchReport, Incoming, Ingestor
from cloud.store import utc_now
from cloud.worker import ProcessIngestor
from forecourt.errors import BrokerError, ConfigError
from forecourt.protocol import ROOT

log = logging.getLogger("forecourt.collector.mqtt")


@dataclass(frozen=True)
class _Received:
    topic: str
    payload: bytes
    mid: int
    qos: int
    store: bool = True


def credentials(settings: CollectorMqtt) -> tuple[str | None, str | None]:
    if settings.credentials_file is None:
        return settings.username, settings.password
    path = Path(settings.credentials_file)
    try:
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"{path}: credentials file must not be readable by group or others (chmod 600)")
        user, sep, password = path.read_text().strip().partition(":")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read credentials file: {err.strerror}") from None
    if not sep:
        raise ConfigError(f"{path}: expected one line 'username:password'")
    return user, password


SHARED_ID, STATUS_ID, PLAIN_ID = 1, 2, 3


def subscriptions(share_group: str) -> list[tuple[str, int]]:
    """(topic filter, subscription identifier) pairs.

    With a share group: retained messages are never sent on a shared subscription (MQTT 5 §4.8.2), so
    station status, which lives in retained messages, also needs a plain subscription; the identifiers
    let us store a status that arrives twice (once per subscription) once. Without one: one plain
    subscription, which Mosquitto 2.0.11 keeps across a broker restart (it forgets shared ones).
    """
    if not share_group:
        return [(f"{ROOT}/#", PLAIN_ID)]
    return [(f"$share/{share_group}/{ROOT}/#", SHARED_ID), (f"{ROOT}/+/status", STATUS_ID)]


def is_shared_status_copy(topic: str, identifiers: list[int]) -> bool:
    return SHARED_ID in identifiers and STATUS_ID not in identifiers and topic.endswith("/status")


class Subscriber:
    """``start()`` connects and begins storing; ``stop()`` finishes the batch in hand and disconnects."""

    def __init__(
        self,
        settings: CollectorMqtt,
        ingest: IngestSettings,
        ingestor_factory: Callable[[], Ingestor | ProcessIngestor],
        *,
        clock: Callable[[], datetime] = utc_now,
        on_batch: Callable[[BatchReport], None] | None = None,
    ) -> None:
        self.settings = settings
        self.ingest = ingest
        self._ingestor_factory = ingestor_factory
        self._clock = clock
        self._on_batch = on_batch
        self._queue: queue.Queue[_Received] = queue.Queue()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._subacks = 0
        self.stored = 0
        self.dead = 0
        self.duplicates = 0
        self.client = self._make_client()
        self._writer = threading.Thread(target=self._write_loop, name="collector-writer", daemon=True)

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.settings.client_id,
            protocol=mqtt.MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )
        user, password = credentials(self.settings)
        if user is not None:
            client.username_pw_set(user, password)
        url = urlparse(self.settings.url)
        if url.scheme == "mqtts":
            context = ssl.create_default_context(cafile=str(self.settings.ca_file) if self.settings.ca_file else None)
            if self.settings.cert_file:
                context.load_cert_chain(str(self.settings.cert_file), str(self.settings.key_file or ""))
            client.tls_set_context(context)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.reconnect_delay_set(1, 30)
        return client

    def start(self, timeout: float = 10.0) -> "Subscriber":
        url = urlparse(self.settings.url)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.settings.session_expiry_s
        # We acknowledge a batch only after its commit, so the broker must be allowed to have a whole batch
        # unacknowledged; without this Mosquitto trickles messages and throughput drops threefold.
        props.ReceiveMaximum = self.settings.receive_maximum
        self._writer.start()
        try:
            self.client.connect(
                url.hostname or "127.0.0.1", url.port or (8883 if url.scheme == "mqtts" else 1883),
                keepalive=self.settings.keepalive_s, clean_start=False, properties=props,
            )
        except OSError as err:
            raise BrokerError(f"cannot reach the broker at {self.settings.url}: {err}") from None
        self.client.loop_start()
        if not self._connected.wait(timeout):
            self.stop()
            raise BrokerError(
                f"the broker at {self.settings.url} did not accept our connection and subscriptions within {timeout:.0f} s"
            )
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._writer.is_alive():
            self._writer.join(10)
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, _userdata, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            log.error("broker refused the collector: %s", reason_code)
            return
        # One SUBSCRIBE per filter: a subscription identifier belongs to a whole SUBSCRIBE packet.
        for topic, ident in subscriptions(self.settings.share_group):
            props = Properties(PacketTypes.SUBSCRIBE)
            props.SubscriptionIdentifier = ident
            client.subscribe(topic, options=SubscribeOptions(qos=1), properties=props)

    def _on_subscribe(self, _client, _userdata, mid, reason_codes, _props) -> None:
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            log.error("the broker refused our subscriptions: %s (check the collector's ACL)", ", ".join(refused))
            return
        self._subacks += 1
        if self._subacks % len(subscriptions(self.settings.share_group)) == 0:
            log.info("subscribed on %s as %s", self.settings.url, self.settings.client_id)
            self._connected.set()

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props) -> None:
        log.warning("disconnected from the broker (%s); paho reconnects", reason_code)

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = message._topic.decode("utf-8", "replace")  # noqa: SLF001 - the only way to see a bad topic
        identifiers = getattr(message.properties, "SubscriptionIdentifier", None) or []
        # Acknowledged with its batch like any other, but stored only from the plain status subscription.
        store = not is_shared_status_copy(topic, identifiers)
        self._queue.put(_Received(topic, message.payload, message.mid, message.qos, store))

    def _next_batch(self) -> list[_Received]:
        try:
            batch = [self._queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.ingest.batch_wait_ms / 1000
        while len(batch) < self.ingest.batch_size:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.002)
        return batch

    def _write_loop(self) -> None:
        ingestor = self._ingestor_factory()  # its SQLite connection (or child process) belongs to this thread
        try:
            self._drain(ingestor)
        finally:
            close = getattr(ingestor, "close", None)
            if close is not None:
                close()

    def _drain(self, ingestor: Ingestor | ProcessIngestor) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            batch = self._next_batch()
            if not batch:
                continue
            while True:
                try:
                    report = ingestor.store([Incoming(m.topic, m.payload) for m in batch if m.store], now=self._clock())
                    break
                except Exception:  # e.g. disk full: keep the batch unacknowledged and try again
                    log.exception("cannot store a batch of %d; retrying in 1 s", len(batch))
                    if self._stop.wait(1):
                        return
            for message in batch:
                if message.qos > 0:
                    self.client.ack(message.mid, message.qos)
            self.stored += report.stored
            self.dead += report.dead
            self.duplicates += report.duplicates
            if self._on_batch:
                self._on_batch(report)
