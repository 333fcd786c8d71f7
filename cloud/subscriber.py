"""The MQTT side of ingest: a persistent MQTT v5 session on a shared subscription, messages queued to one
writer thread that stores them in batches, and each acknowledged only after its batch is committed.

Three threads share this process's GIL, and paho's network thread has the most to do (parsing each MQTT 5
PUBLISH, its properties most: ~42 us of CPU a message), so the other two keep out of its way: paho's thread
only appends to a deque; the writer hands batches to the ingest process (cloud/worker.py) and waits for the
commit; the acker sends a committed batch's acknowledgements, its PUBACKs in one write, while the next batch
is stored. Measured draining bench/ingest.py's backlog (4 rounds on one backlog, medians): 9,700 stored/s,
75 % of the raw subscriber's rate, with a queue.Queue, ack() per message and acknowledging in the writer
(15 us of the writer's CPU a message); 15,500/s, 115 %, now (writer and acker 3 us each; decoding a third
cheaper helped too). The ingest child, ~48 us a message, is the busier side now.

Two acknowledgements follow each commit: the MQTT PUBACK to the broker, and a storage acknowledgement
to every station in the batch (``forecourt/v1/<station>/ack``, cloud/acks.py) saying which of its
events HQ now holds. Stations keep each event until that second one, so what a broker loses (killed
before its autosave, or restarted without our shared subscription, which Mosquitto 2.0 forgets) is
sent again; a collector killed between receipt and commit loses nothing either way.

Given a :class:`~cloud.broker_sys.BrokerSys`, the same connection also reads the broker's ``$SYS/broker/#``
figures (QoS 0, in a SUBSCRIBE of its own so a broker that refuses it still lets ingest start) for /metrics.
"""

import logging
import queue
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from cloud.broker_sys import SYS_FILTER, BrokerSys
from cloud.config import CollectorMqtt, IngestSettings
from cloud.ingest import BatchReport, Incoming, Ingestor
from cloud.store import utc_now
from cloud.worker import ProcessIngestor
from forecourt.errors import BrokerError
from forecourt.protocol import ROOT, encode_ack

log = logging.getLogger("forecourt.collector.mqtt")
_PUBACK = struct.Struct("!BBH")  # a PUBACK with reason Success: type, remaining length 2, packet id (MQTT 5 3.4.2.1)
# paho's queue of outgoing packets, what its own ack() puts each PUBACK on; tests/test_cloud_subscriber.py holds
# its signature. Without it (a paho that renamed it) every PUBACK goes through ack(), as before.
_ONE_WRITE = hasattr(mqtt.Client, "_packet_queue")


class _Received(NamedTuple):  # a tuple, not a dataclass: made on paho's thread for every message, which limits ingest
    topic: str
    payload: bytes
    mid: int
    qos: int


def subscriptions(share_group: str) -> list[str]:
    """Topic filters: what stations publish (never our own downlink, ``ack`` and ``config``).

    With a share group, events and health are split between the group's collectors; status and
    config_state stay plain subscriptions because retained messages are never sent on a shared one
    (MQTT 5 §4.8.2), and every collector may record a station's status or config state (idempotent).
    """
    events, health = f"{ROOT}/+/event/+", f"{ROOT}/+/health"
    retained = [f"{ROOT}/+/status", f"{ROOT}/+/config_state"]
    if not share_group:
        return [events, health, *retained]
    return [f"$share/{share_group}/{events}", f"$share/{share_group}/{health}", *retained]


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
        broker_sys: BrokerSys | None = None,
    ) -> None:
        self.settings = settings
        self.ingest = ingest
        self._ingestor_factory = ingestor_factory
        self._clock = clock
        self._on_batch = on_batch
        self.broker_sys = broker_sys
        self._sys_mid: int | None = None
        # Received, not yet stored: a deque (append and popleft are atomic) and an event the writer waits on when
        # it is empty. queue.Queue's locks and condition cost paho's thread more than the rest of our callback.
        self._inbox: deque[_Received] = deque()
        self._arrived = threading.Event()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self.connections = 0  # sessions (re)established and subscribed: cloud/fleet_link.py republishes on each
        self.acks_sent = 0
        self.stored = 0
        self.dead = 0
        self.duplicates = 0
        self.client = self._make_client()
        self._writer = threading.Thread(target=self._write_loop, name="collector-writer", daemon=True)
        # Committed batches on their way to their acknowledgements: a thread of their own sends them while the
        # writer stores the next batch, so the ingest process is not idle while 2,000 PUBACKs go out. In order.
        self._committed: queue.Queue[tuple[list[_Received], BatchReport] | None] = queue.Queue(maxsize=2)
        self._acker = threading.Thread(target=self._ack_loop, name="collector-acks", daemon=True)

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.settings.session_id,
            protocol=mqtt.MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )
        user, password = self.settings.credentials()
        if user is not None:
            client.username_pw_set(user, password)
        tls = self.settings.tls_context()
        if tls is not None:
            client.tls_set_context(tls)
        client.connect_timeout = self.settings.connect_timeout_s
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.reconnect_delay_set(max(1, round(self.settings.reconnect_min_s)), max(1, round(self.settings.reconnect_max_s)))
        return client

    def start(self, timeout: float = 10.0) -> "Subscriber":
        address = self.settings.address
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.settings.session_expiry_s
        # We acknowledge a batch only after its commit, so the broker must be allowed to have a whole batch
        # unacknowledged; without this Mosquitto trickles messages and throughput drops threefold.
        props.ReceiveMaximum = self.settings.receive_maximum
        self._writer.start()
        self._acker.start()
        try:
            self.client.connect(
                address.host, address.port, keepalive=self.settings.keepalive_s, clean_start=False, properties=props
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
        if self._acker.is_alive():
            self._acker.join(10)
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, _userdata, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            log.error("broker refused the collector: %s", reason_code)
            return
        # Every time, session or not: Mosquitto 2.0 restores a persistent session without its shared subscriptions.
        client.subscribe([(topic, SubscribeOptions(qos=1)) for topic in subscriptions(self.settings.share_group)])
        if self.broker_sys is not None:
            _, self._sys_mid = client.subscribe(SYS_FILTER, options=SubscribeOptions(qos=0))

    def _on_subscribe(self, _client, _userdata, mid, reason_codes, _props) -> None:
        refused = [str(code) for code in reason_codes if code.is_failure]
        if mid == self._sys_mid and self.broker_sys is not None:
            self.broker_sys.refused = bool(refused)
            if refused:
                log.warning("the broker refused $SYS/broker/# (%s): /metrics has no broker figures", ", ".join(refused))
            return
        if refused:
            log.error("the broker refused our subscriptions: %s (check the collector's ACL)", ", ".join(refused))
            return
        log.info("subscribed on %s as %s", self.settings.url, self.settings.session_id)
        self.connections += 1
        self._connected.set()

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props) -> None:
        if self._stop.is_set():  # our own stop(): nothing is wrong and nothing reconnects
            log.info("disconnected from the broker (%s)", reason_code)
            return
        log.warning("disconnected from the broker (%s); paho reconnects", reason_code)

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = message._topic.decode("utf-8", "replace")  # noqa: SLF001 - the only way to see a bad topic
        if topic.startswith("$SYS/") and self.broker_sys is not None:
            self.broker_sys.update(topic, message.payload)  # the broker's figures, never station data
            return
        self._inbox.append(_Received(topic, message.payload, message.mid, message.qos))
        if not self._arrived.is_set():
            self._arrived.set()

    def _next_batch(self) -> list[_Received]:
        inbox = self._inbox
        if not inbox:
            self._arrived.clear()  # then look again: a message appended before the clear is in the inbox by now
            if not inbox and not self._arrived.wait(0.2):
                return []
        batch: list[_Received] = []
        deadline = time.monotonic() + self.ingest.batch_wait_ms / 1000
        while True:
            for _ in range(min(len(inbox), self.ingest.batch_size - len(batch))):
                batch.append(inbox.popleft())
            if len(batch) >= self.ingest.batch_size or time.monotonic() >= deadline:
                return batch
            time.sleep(0.002)

    def _write_loop(self) -> None:
        ingestor = self._ingestor_factory()  # its SQLite connection (or child process) belongs to this thread
        try:
            self._drain(ingestor)
        finally:
            self._committed.put(None)  # the acker's signal to finish what it has and end
            close = getattr(ingestor, "close", None)
            if close is not None:
                close()

    def _drain(self, ingestor: Ingestor | ProcessIngestor) -> None:
        while not (self._stop.is_set() and not self._inbox):
            batch = self._next_batch()
            if not batch:
                continue
            while True:
                try:
                    report = ingestor.store([Incoming(m.topic, m.payload) for m in batch], now=self._clock())
                    break
                except Exception:  # e.g. disk full: keep the batch unacknowledged and try again
                    log.exception("cannot store a batch of %d; retrying in 1 s", len(batch))
                    if self._stop.wait(1):
                        return
            self._committed.put((batch, report))

    def _ack_loop(self) -> None:
        while (committed := self._committed.get()) is not None:
            batch, report = committed
            self._tell_stations(report)
            self._acknowledge(batch)
            self.stored += report.stored
            self.dead += report.dead
            self.duplicates += report.duplicates
            if self._on_batch:
                self._on_batch(report)

    def _acknowledge(self, batch: list[_Received]) -> None:
        """PUBACK a committed batch in the order it arrived (MQTT 5 4.6.0-2 asks it), in one socket write.

        ``client.ack`` queues each PUBACK with a wake-up of paho's thread, and paho sends each on its own: two
        system calls a message, each a hand-over of the GIL that paho's receiving thread then waits for. A
        QoS 1 PUBACK is 4 bytes paho keeps no state about, so a batch's go on paho's queue as one packet,
        the bytes its ack() would send, in the same order. Measured (one backlog, 3 rounds, medians): the
        collector went from 82 % to 92 % of the raw subscriber's rate. Anything else (QoS 2, never
        subscribed to) goes through ack().
        """
        if not _ONE_WRITE:
            for message in batch:
                if message.qos > 0:
                    self.client.ack(message.mid, message.qos)
            return
        pubacks = b"".join(_PUBACK.pack(mqtt.PUBACK, 2, m.mid) for m in batch if m.qos == 1)
        if pubacks:
            self.client._packet_queue(mqtt.PUBACK, pubacks, 0, 0)  # noqa: SLF001
        for message in batch:
            if message.qos > 1:
                self.client.ack(message.mid, message.qos)

    def _tell_stations(self, report: BatchReport) -> None:
        """Storage acknowledgements for what the commit settled. One lost on the way costs a resend, not an event."""
        for ack in report.acks.messages(now=self._clock()):
            info = self.client.publish(*encode_ack(ack), qos=1)
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                self.acks_sent += 1
            else:
                log.debug("could not send the storage acknowledgement to %s (%s); it will resend", ack.station, info.rc)
