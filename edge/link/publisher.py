"""Drains the outbox to the broker over MQTT (paho-mqtt v2 API), QoS 1, in order, losing nothing.

One thread owns one paho client per connection and drives its network I/O itself (paho's external-loop
API: ``loop_read``/``loop_write``/``loop_misc`` around our own ``select``), so every paho callback runs
in that thread and the in-flight table needs no lock, and no wake-up byte is written per publish. A fresh client per connection
keeps paho from re-sending its own copy of unacknowledged messages on reconnect: after a reconnect the
outbox is replayed from its oldest undelivered row, which is the single source of truth.

A row leaves the outbox only when HQ says it stored it (the collector's storage acknowledgement on
``forecourt/v1/<station>/ack``, forecourt/protocol/acks.py); a PUBACK only marks it sent, because a broker
PUBACKs what it then loses (docs/EDGE_LINK.md has the fault table). Unacknowledged rows go out again after
``resend_after_s`` (doubling while HQ stays silent, up to 10x) and on every reconnect; at most
``unacked_limit`` are out at once. A PUBACK with reason 16 or an error code never counts as delivered and is
logged; an error code, like a refused CONNACK, makes the link reconnect with backoff (MQTT 3.1.1 cannot
report either, so v5 is the default). The link is "connected" only after a successful CONNACK and, when
keeping rows until HQ stores them, a granted ack subscription.

With ``on_config`` the same SUBSCRIBE takes the retained ``config`` topic, so HQ's settings arrive (in this
thread) on every connection; :meth:`Publisher.set_config_state` is published retained on each and on change.
"""

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from edge.config import MqttSettings
from edge.link.netloop import network_round
from edge.link.outbox import Outbox
from edge.link.pacing import Backoff, TokenBucket
from edge.link.retained import RetainedSlot
from edge.link.stats import LinkStats
from edge.link.unacked import Unacked
from forecourt.errors import ProtocolError
from forecourt.protocol import Status, ack_topic, config_state_topic, config_topic, decode_ack, encode

log = logging.getLogger(__name__)

IDLE_WAIT_S = 0.05  # longest a new event waits before the publisher looks at the outbox
ACK_FLUSH_S = 0.05  # PUBACKed rows are deleted in batches at least this often (keep_until = "puback")
ACK_FLUSH_ROWS = 256
STOP_GRACE_S = 2.0  # on stop: wait this long for outstanding PUBACKs and the offline status's PUBACK
NO_MATCHING_SUBSCRIBERS = 16


class Publisher:
    def __init__(
        self,
        outbox: Outbox,
        settings: MqttSettings,
        *,
        station: str,
        birth: Status,
        window: int = 100,
        rate: float = 500.0,
        keep_until: Literal["stored", "puback"] = "stored",
        resend_after_s: float = 30.0,
        unacked_limit: int = 5000,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        on_config: Callable[[bytes], None] | None = None,
    ) -> None:
        if birth.state != "online":
            raise ValueError("the birth message is an online status")
        self.outbox = outbox
        self.settings = settings
        self.station = station
        self.window = window
        self.keep_until = keep_until
        self.resend_after_s = resend_after_s
        self.unacked_limit = unacked_limit
        self.monotonic = monotonic
        self.address = settings.address
        self.username, self.password = settings.credentials(default_username=station)
        self.tls = settings.tls_context()
        self.status_topic, self.birth_payload = encode(birth, station)
        self.offline_payload = encode(Status(state="offline"), station)[1]
        self.ack_topic = ack_topic(station)
        self.config_topic, self.on_config = config_topic(station), on_config
        self.config_state = RetainedSlot(config_state_topic(station))
        self.backoff = Backoff(settings.reconnect_min_s, settings.reconnect_max_s, rng or random.Random())
        self.bucket = TokenBucket(rate=rate, burst=max(1.0, min(float(window), rate)))
        self.published = self.reconnects = self.refused = self.rejected = 0
        self.confirmed = self.resent = self.no_subscribers = 0
        self.last_error: str | None = None
        self._connections = 0
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._new_rows = True
        self._thread: threading.Thread | None = None
        # Per-connection state, touched only by the publisher thread (inside paho callbacks too).
        self._connack: ReasonCode | None = None
        self._suback: list[ReasonCode] | None = None
        self._inflight: dict[int, int] = {}  # MQTT message id -> outbox row awaiting PUBACK
        self._unacked = Unacked(resend_after_s=resend_after_s, limit=unacked_limit)
        self._acked: list[int] = []
        self._session_ok = False
        self._broken = False
        outbox.on_new(self._wake)

    # -- public ----------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("publisher already started")
        self._thread = threading.Thread(target=self._run, name=f"publisher-{self.station}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Deliver what is in flight (briefly), publish the offline status, disconnect cleanly."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stats(self) -> LinkStats:
        return LinkStats(
            self.connected, self.published, self.reconnects, self.refused, self.rejected, self.last_error,
            confirmed=self.confirmed, awaiting_ack=len(self._unacked), resent=self.resent, no_subscribers=self.no_subscribers,
        )

    def set_config_state(self, payload: bytes) -> None:
        """The station's retained answer to HQ's settings: published now if connected, and on every connection."""
        self.config_state.set(payload)

    def _wake(self) -> None:
        self._new_rows = True

    @property
    def _until_stored(self) -> bool:
        return self.keep_until == "stored"

    # -- the thread ------------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            client = self._new_client()
            started = self.monotonic()
            try:
                if self._connect(client) and self._subscribe(client):
                    self._session(client)
            except Exception:  # a bug here must not end the link for good: log it, back off, retry
                log.exception("MQTT link failed unexpectedly; reconnecting")
            finally:
                self._connected.clear()
                self._flush_acks()
                client.disconnect()
            if self._session_ok or self.monotonic() - started > self.settings.reconnect_max_s:
                self.backoff.reset()
            if not self._stopping.is_set():
                self._stopping.wait(self.backoff.next_delay())

    def _new_client(self) -> mqtt.Client:
        v5 = self.settings.protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.settings.client_id or f"forecourt-{self.station}",
            protocol=mqtt.MQTTProtocolVersion.MQTTv5 if v5 else mqtt.MQTTProtocolVersion.MQTTv311,
            clean_session=None if v5 else True,
        )
        client.username_pw_set(self.username, self.password)
        if self.tls is not None:
            client.tls_set_context(self.tls)
        client.will_set(self.status_topic, self.offline_payload, qos=1, retain=True)
        client.connect_timeout = self.settings.connect_timeout_s
        # Our window bounds what is in flight; paho's own limit would rescan its queue on every PUBACK.
        client.max_inflight_messages_set(0)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self._connack = None
        self._suback = None
        self._inflight = {}
        # A new connection replays every row HQ has not confirmed.
        self._unacked = Unacked(resend_after_s=self.resend_after_s, limit=self.unacked_limit)
        self._acked = []
        self._session_ok = False
        self._broken = False
        return client

    def _connect(self, client: mqtt.Client) -> bool:
        where = f"{self.address.host}:{self.address.port}"
        try:
            if self.settings.protocol == "5":
                client.connect(self.address.host, self.address.port, self.settings.keepalive_s, clean_start=True)
            else:
                client.connect(self.address.host, self.address.port, self.settings.keepalive_s)
        except ssl.SSLError as err:  # not an outage: a certificate or TLS setting is wrong
            self._error(f"TLS handshake with broker {where} failed: {err}", logging.ERROR)
            return False
        except (OSError, ValueError) as err:
            self._error(f"cannot reach broker {where}: {err}", logging.WARNING)
            return False
        if not self._await(client, lambda: self._connack is not None):
            self._error(f"broker {where} closed or did not answer the connection (no CONNACK)", logging.WARNING)
            return False
        if self._connack.is_failure:
            self.refused += 1
            self._error(f"broker {where} refused the connection for user {self.username!r}: {self._connack}", logging.ERROR)
            return False
        self._connections += 1
        if self._connections > 1:
            self.reconnects += 1
        log.info("connected to %s as %r", where, self.username)
        return True

    def _subscribe(self, client: mqtt.Client) -> bool:
        """Listen for HQ's storage acknowledgements (and settings) before sending anything they would answer."""
        topics = ([self.ack_topic] if self._until_stored else []) + ([self.config_topic] if self.on_config else [])
        if not topics:
            return True
        if not self._check(client.subscribe([(topic, 1) for topic in topics])[0]):
            return False
        if not self._await(client, lambda: self._suback is not None):
            self._error(f"broker did not answer the subscription to {', '.join(topics)}", logging.WARNING)
            return False
        for topic, code in zip(topics, self._suback, strict=False):
            if code.is_failure:  # events are still sent (and kept); what the refusal costs is said in the log
                cost = ("events stay in the outbox until HQ's storage acknowledgements can arrive" if topic == self.ack_topic
                        else "HQ's settings cannot reach this station")
                self._error(f"broker refused the subscription to {topic} ({code}); {cost}: update the broker's ACL "
                            "(docs/INSTALL.md)", logging.ERROR)
        return True

    def _await(self, client: mqtt.Client, done: Callable[[], bool]) -> bool:
        deadline = self.monotonic() + self.settings.connect_timeout_s
        while not done() and self.monotonic() < deadline and not self._stopping.is_set():
            if not network_round(client, 0.1):
                break  # a refusal closes the connection right after its CONNACK
        return done()

    def _session(self, client: mqtt.Client) -> None:
        self._connected.set()
        self._check(client.publish(self.status_topic, self.birth_payload, qos=1, retain=True))
        self.config_state.connected()
        cursor = 0  # highest outbox row sent on this connection
        self._new_rows = more = True
        last_flush = self.monotonic()
        while not self._broken and not self._stopping.is_set():
            if (state := self.config_state.due()) is not None:
                info = client.publish(self.config_state.topic, state[1], qos=1, retain=True)
                if self._check(info):
                    self.config_state.published(state[0], info.mid)
            now = self.monotonic()
            wait = IDLE_WAIT_S
            allowed = min(self.window - len(self._inflight), self.bucket.available(now))
            if allowed > 0:
                allowed -= self._resend_due(client, now, allowed)
            room = min(allowed, self._unacked.room())
            if room > 0 and (more or self._new_rows):
                self._new_rows = False
                rows = self.outbox.pending(after=cursor, limit=room)
                more = len(rows) == room
                for row in rows:
                    if not self._send(client, row.n, row.topic, row.payload, now):
                        break
                    cursor = row.n
                wait = 0.0 if more and len(self._inflight) < self.window else IDLE_WAIT_S
            elif allowed <= 0 and len(self._inflight) < self.window:
                wait = min(IDLE_WAIT_S, self.bucket.wait_for_one())
            if len(self._acked) >= ACK_FLUSH_ROWS or (self._acked and now - last_flush >= ACK_FLUSH_S):
                self._flush_acks()
                last_flush = now
            if not network_round(client, wait):
                self._broken = True
        if self._broken:
            self._error("lost the connection to the broker; will replay what HQ has not acknowledged", logging.WARNING)
            return
        self._goodbye(client)

    def _send(self, client: mqtt.Client, n: int, topic: str, payload: bytes, now: float) -> bool:
        info = client.publish(topic, payload, qos=1)
        if not self._check(info):
            return False
        self._inflight[info.mid] = n
        self._unacked.sent(n, now)
        self.bucket.spend(1)
        return True

    def _resend_due(self, client: mqtt.Client, now: float, allowed: int) -> int:
        """Send again (up to ``allowed``) the rows HQ has not acknowledged in time; returns how many went."""
        due = self._unacked.due(now, allowed)
        if not due:
            return 0
        rows = {row.n: row for row in self.outbox.rows(due)}
        sent = 0
        for n in due:
            row = rows.get(n)
            if row is None:  # acknowledged meanwhile (its ack came after its PUBACK was lost, say)
                self._unacked.forget([n])
                continue
            if not self._send(client, n, row.topic, row.payload, now):
                break
            sent += 1
        self.resent += sent
        if sent:
            log.info("sent %d events again: HQ had not acknowledged them within %.0f s", sent, self._unacked.delay)
            self._unacked.resent(now)
        return sent

    def _goodbye(self, client: mqtt.Client) -> None:
        """A clean stop: let in-flight PUBACKs land, then say offline (a clean DISCONNECT suppresses the will)."""
        deadline = self.monotonic() + STOP_GRACE_S
        while self._inflight and self.monotonic() < deadline and not self._broken:
            if not network_round(client, 0.05):
                return
        info = client.publish(self.status_topic, self.offline_payload, qos=1, retain=True)
        deadline = self.monotonic() + STOP_GRACE_S  # its own grace: slow PUBACKs before it must not cost HQ the offline status
        while self._check(info) and not info.is_published() and self.monotonic() < deadline:
            if not network_round(client, 0.05):
                return

    # -- paho callbacks (publisher thread) -------------------------------------------------------------

    def _on_connect(self, _client, _userdata, _flags, reason_code: ReasonCode, _properties) -> None:
        self._connack = reason_code

    def _on_subscribe(self, _client, _userdata, _mid, reason_codes: list[ReasonCode], _properties) -> None:
        self._suback = list(reason_codes)

    def _on_publish(self, _client, _userdata, mid: int, reason_code: ReasonCode, _properties) -> None:
        row = self._inflight.pop(mid, None)
        if reason_code.is_failure and self.config_state.refused(mid):  # a role older than the topic: events go on
            self._error(f"broker refused {self.config_state.topic}: {reason_code}; run forecourt provision roles", logging.ERROR)
            return
        if reason_code.value == NO_MATCHING_SUBSCRIBERS:
            # The broker took it and gave it to nobody: not delivered. Kept; sent again after resend_after_s.
            self.no_subscribers += 1
            if row is not None:
                self._error(
                    "broker had no subscriber for an event (PUBACK reason 16: HQ's collector is not subscribed); "
                    "it stays queued and is sent again", logging.WARNING,
                )
            return
        if reason_code.is_failure:
            self.rejected += 1
            what = f"outbox row {row}" if row is not None else "a retained status or config state"
            self._error(f"broker rejected {what} as user {self.username!r}: {reason_code}; it stays queued", logging.ERROR)
            self._broken = True  # Mosquitto drops the connection anyway; reconnect with backoff and retry
            return
        if row is not None:
            self.published += 1
            self._session_ok = True
            if not self._until_stored:  # the PUBACK is this mode's answer: a delivery resets the resend delay
                self._acked.append(row)
                self._unacked.answered([row])

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        if message.topic == self.config_topic:
            if self.on_config is not None:
                try:
                    self.on_config(message.payload)
                except Exception:  # a bug in applying settings must not take the link down
                    log.exception("handling the settings document on %s failed", self.config_topic)
            return
        try:
            ack = decode_ack(message.topic, message.payload, station=self.station)
        except (ProtocolError, UnicodeDecodeError) as err:
            log.error("ignored a malformed storage acknowledgement on %s: %s", self.ack_topic, err)
            return
        done = self.outbox.acknowledge(ack)
        self._unacked.answered(done.rows)
        self.confirmed += len(done.rows)
        self._new_rows = True  # room under unacked_limit again
        for refusal in done.rejected:
            log.error("HQ refused event seq %d for good and will never store it: %s", refusal.seq, refusal.reason)

    # -- helpers ---------------------------------------------------------------------------------------

    def _check(self, info: "mqtt.MQTTMessageInfo | MQTTErrorCode") -> bool:
        rc = info if isinstance(info, MQTTErrorCode) else info.rc
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._broken = True
            return False
        return True

    def _flush_acks(self) -> None:
        if self._acked:
            acked, self._acked = self._acked, []
            self.outbox.delivered(acked)

    def _error(self, message: str, level: int) -> None:
        # An outage repeats the same warning at every retry; say it once, then only at DEBUG.
        repeated = message == self.last_error and level < logging.ERROR
        self.last_error = message
        log.log(logging.DEBUG if repeated else level, "%s", message)
