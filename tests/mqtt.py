"""Real paho clients for tests: connect as a user and wait for the CONNACK, record what arrives."""

import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from forecourt.broker import Mosquitto
from tests.waiting import wait_until


class Refused(Exception):
    pass


def connect(
    broker: Mosquitto,
    username: str | None,
    password: str | None = None,
    *,
    client_id: str = "",
    timeout: float = 5.0,
    on_message: Callable[[mqtt.MQTTMessage], None] | None = None,
    protocol: mqtt.MQTTProtocolVersion = mqtt.MQTTProtocolVersion.MQTTv5,
) -> mqtt.Client:
    """A started client, connected (or :class:`Refused` with the broker's reason)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
    if username is not None:
        client.username_pw_set(username, password or broker.users.get(username))
    done = threading.Event()
    result: list = []

    def on_connect(_c, _u, _flags, reason_code, _props):
        result.append(reason_code)
        done.set()

    client.on_connect = on_connect
    if on_message is not None:
        client.on_message = lambda _c, _u, msg: on_message(msg)
    client.connect(broker.host, broker.port, keepalive=30)
    client.loop_start()
    if not done.wait(timeout):
        client.loop_stop()
        raise TimeoutError("no CONNACK")
    if result[0].is_failure:
        client.loop_stop()
        client.disconnect()
        raise Refused(str(result[0]))
    return client


class Recorder:
    """Subscribes and keeps every (topic, payload, retain) in arrival order.

    As "observer" by default, a collector-class user of its own: the broker uses the username as client
    id, so a recorder as "collector" would take over (and lose to) the collector under test.
    """

    def __init__(
        self, broker: Mosquitto, topic: str = "forecourt/v1/#", username: str = "observer", qos: int = 1,
        client_id: str = "",
    ):
        self.messages: list[tuple[str, bytes, bool]] = []
        self.disconnects: list[str] = []  # reason of every connection the broker closed on us
        self._lock = threading.Lock()
        self.client = connect(broker, username, client_id=client_id, on_message=self._keep)
        self.client.on_disconnect = lambda _c, _u, _flags, reason, _p: self.disconnects.append(str(reason))
        subscribed = threading.Event()
        granted: list = []
        self.client.on_subscribe = lambda _c, _u, _mid, reasons, _p: (granted.extend(reasons), subscribed.set())
        self.client.subscribe(topic, qos=qos)
        if not subscribed.wait(5):
            raise TimeoutError("no SUBACK")
        self.granted = not granted[0].is_failure  # False: the broker refused the subscription

    def _keep(self, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, msg.payload, bool(msg.retain)))

    def wait_for(self, predicate: Callable[[list], bool], timeout: float = 10.0) -> bool:
        return wait_until(lambda: predicate(self.snapshot()), timeout)

    def snapshot(self) -> list[tuple[str, bytes, bool]]:
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.on_disconnect = None
        self.client.disconnect()
        self.client.loop_stop()


def publish(client: mqtt.Client, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
    info = client.publish(topic, payload, qos=qos, retain=retain)
    info.wait_for_publish(5)


def attempt(
    broker: Mosquitto, user: str, topic: str, payload: bytes, *, retain: bool = False,
    protocol: mqtt.MQTTProtocolVersion = mqtt.MQTTProtocolVersion.MQTTv5,
) -> str:
    """Publish once as ``user`` on a connection of its own and say what the broker answered.

    The connection is closed afterwards either way: paho would reconnect and send it again, and with the
    username as client id each reconnection would push the test's other connection of ``user`` out.
    """
    answered = threading.Event()
    answer: list[str] = []
    client = connect(broker, user, protocol=protocol)
    client.on_publish = lambda _c, _u, _mid, reason, _p: (answer.append(str(reason)), answered.set())
    client.on_disconnect = lambda _c, _u, _f, reason, _p: (answer.append(f"disconnected: {reason}"), answered.set())
    try:
        client.publish(topic, payload, qos=1, retain=retain)
        assert answered.wait(5), "no PUBACK and no disconnection"
        return answer[0]
    finally:
        client.on_disconnect = None
        client.disconnect()
        client.loop_stop()
