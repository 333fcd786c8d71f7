"""The station's link to a Home Assistant broker at the station: discovery, state, kiosk events.

No flood, by design:

* Discovery documents are published retained, and only where the broker does not already hold exactly
  them. The bridge subscribes to its own discovery topics, so it always knows what the broker holds;
  after connecting it waits :data:`SETTLE_S` for the retained copies, then publishes the differences and
  clears (empty retained payload) the documents of entities that no longer exist.
* Home Assistant's birth message (``<prefix>/status`` = ``online``) triggers the same comparison, which
  publishes nothing when the broker kept everything: a Home Assistant restart reads the retained
  documents by itself. Only a broker that lost them (restarted without persistence) is sent them again.
* The state document is retained and published only when it changed, at most every ``state_every_s``.

Availability: the station's status document, mirrored here with the same last will as on the chain's
broker. Nothing here touches the chain's broker or the outbox: Home Assistant is a display, not a record.
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import HomeAssistantSettings, StationConfig
from edge.events import Draft
from edge.link.homeassistant import HaTopics, discovery_documents, kiosk_event, state_document
from edge.station_view import StationView
from forecourt.protocol import RatingBody, Status, encode

log = logging.getLogger("forecourt.homeassistant")
SETTLE_S = 1.0  # retained messages arrive right after the SUBACK; a second is plenty on a LAN


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


class HomeAssistantBridge:
    """``start()``, then ``tick(view)`` from the service's loop and ``drafted(draft)`` for every event;
    ``stop()`` says offline. All MQTT I/O happens on paho's thread or in ``tick``."""

    def __init__(
        self, settings: HomeAssistantSettings, config: StationConfig, *, birth: Status, version: str,
        page_url: str | None = None, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.topics = HaTopics(settings.discovery_prefix, config.station.id)
        self.wanted = {t: _dumps(d) for t, d in
                       discovery_documents(config, version=version, prefix=self.topics.prefix, page_url=page_url).items()}
        self.birth = encode(birth, config.station.id)[1]
        self.offline = encode(Status(state="offline"), config.station.id)[1]
        self._clock = clock
        self._lock = threading.Lock()
        self.held: dict[str, bytes] = {}  # what the broker retains on our discovery topics, as last seen
        self._sync_at: float | None = None
        self._last_state: bytes | None = None
        self._state_at = float("-inf")
        self.published_configs = 0  # discovery documents published (or cleared), for tests and logs
        self.connected = threading.Event()
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"forecourt-{self.topics.station}-ha",
                             protocol=mqtt.MQTTProtocolVersion.MQTTv311)
        user, password = self.settings.credentials()
        if user is not None:
            client.username_pw_set(user, password)
        if (tls := self.settings.tls_context()) is not None:
            client.tls_set_context(tls)
        client.will_set(self.topics.status, self.offline, qos=1, retain=True)
        client.reconnect_delay_set(max(1, round(self.settings.reconnect_min_s)), max(1, round(self.settings.reconnect_max_s)))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def start(self) -> "HomeAssistantBridge":
        address = self.settings.address
        # Asynchronous: a Home Assistant broker that is down must not hold up the station.
        self.client.connect_async(address.host, address.port, keepalive=self.settings.keepalive_s)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        if self.connected.is_set():
            self.client.publish(self.topics.status, self.offline, qos=1, retain=True).wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()

    # -- paho's thread ------------------------------------------------------------------------------------

    def _on_connect(self, client, _userdata, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            log.error("Home Assistant's broker %s refused us: %s", self.settings.url, reason_code)
            return
        client.publish(self.topics.status, self.birth, qos=1, retain=True)
        with self._lock:
            self.held.clear()  # the broker tells us again what it holds
            self._last_state = None  # and gets the state once per connection
        client.subscribe([(self.topics.own_configs, 1), (self.topics.ha_status, 1)])

    def _on_subscribe(self, _client, _userdata, _mid, reason_codes, _props) -> None:
        if any(code.is_failure for code in reason_codes):
            log.error("Home Assistant's broker refused our subscriptions (its ACL?); discovery goes out unchecked")
        self._schedule_sync()
        self.connected.set()

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props) -> None:
        self.connected.clear()
        log.warning("disconnected from Home Assistant's broker (%s); paho reconnects", reason_code)

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        if message.topic == self.topics.ha_status:
            if message.payload == b"online":
                self._schedule_sync()  # compare; publish only what the broker lost
            return
        with self._lock:
            if message.payload:
                self.held[message.topic] = bytes(message.payload)
            else:
                self.held.pop(message.topic, None)

    def _schedule_sync(self) -> None:
        with self._lock:
            self._sync_at = self._clock() + SETTLE_S

    # -- the service's loop -------------------------------------------------------------------------------

    def tick(self, view: StationView) -> None:
        """Publish due discovery changes and a changed state."""
        if not self.connected.is_set():
            return
        now = self._clock()
        with self._lock:
            due = self._sync_at is not None and now >= self._sync_at
            if due:
                self._sync_at = None
        if due:
            self.sync()
        state = _dumps(state_document(view))
        if state != self._last_state and now - self._state_at >= self.settings.state_every_s:
            self.client.publish(self.topics.state, state, qos=1, retain=True)
            self._last_state, self._state_at = state, now

    def sync(self) -> int:
        """Make the broker hold exactly our wanted documents; returns how many were published or cleared."""
        with self._lock:
            held = dict(self.held)
        changes = [(t, d) for t, d in self.wanted.items() if held.get(t) != d]
        changes += [(t, b"") for t in held if t not in self.wanted]
        for topic, payload in changes:
            self.client.publish(topic, payload, qos=1, retain=True)
            with self._lock:
                if payload:
                    self.held[topic] = payload
                else:
                    self.held.pop(topic, None)
        if changes:
            log.info("Home Assistant discovery: %d document(s) published or cleared", len(changes))
        self.published_configs += len(changes)
        return len(changes)

    def drafted(self, draft: Draft) -> None:
        """A rating becomes an ``event`` entity's event (sent now, never retained)."""
        body = draft.body
        if isinstance(body, RatingBody) and self.connected.is_set():
            self.client.publish(self.topics.kiosk(body.kiosk), _dumps(kiosk_event(body)), qos=1, retain=False)
