"""The broker's rules against a real Mosquitto: a station may publish only its own uplink and read only its
own downlink; nothing it does costs another client a message or its session."""

import paho.mqtt.client as mqtt
import pytest

from forecourt.broker import Mosquitto
from forecourt.dynsec import COLLECTOR_ROLE, read_clients, verify_password
from forecourt.protocol import EVENT_KINDS, MAX_PAYLOAD_BYTES, event_topic
from tests.conftest import COLLECTORS, STATION_USERS
from tests.mqtt import Recorder, Refused, attempt, connect, publish
from tests.waiting import wait_until

V5, V311 = mqtt.MQTTProtocolVersion.MQTTv5, mqtt.MQTTProtocolVersion.MQTTv311


def send_events(client: mqtt.Client, station: str, n: int, tag: str) -> list[bytes]:
    payloads = [f'{{"{tag}": {i}}}'.encode() for i in range(n)]
    for payload in payloads:
        publish(client, event_topic(station, "rating"), payload)
    return payloads


def payloads(recorder: Recorder) -> list[bytes]:
    return [p for _, p, _ in recorder.snapshot()]


def test_station_cannot_publish_into_another_stations_topics(broker):
    recorder = Recorder(broker)
    assert attempt(broker, "a", "forecourt/v1/b/event/rating", b'{"forged": true}') == "Not authorized"
    honest = connect(broker, "a")
    try:
        publish(honest, "forecourt/v1/a/event/rating", b'{"own": true}')
        assert recorder.wait_for(lambda msgs: any(t == "forecourt/v1/a/event/rating" for t, _, _ in msgs))
        # The own message arrived after the forged one was sent, so the forged one had its chance.
        assert [t for t, _, _ in recorder.messages] == ["forecourt/v1/a/event/rating"]
    finally:
        honest.loop_stop()
        recorder.close()


def test_anonymous_and_wrong_password_are_refused(broker):
    with pytest.raises(Refused):
        connect(broker, None)
    with pytest.raises(Refused):
        connect(broker, "a", "not-the-password")


def test_station_cannot_read_the_fleet(broker):
    spy = Recorder(broker, username="b")
    a = connect(broker, "a")
    try:
        publish(a, "forecourt/v1/a/event/rating", b"{}")
        collector = Recorder(broker)
        publish(a, "forecourt/v1/a/event/cleaning", b"{}")
        assert collector.wait_for(lambda msgs: len(msgs) >= 1)
        assert spy.messages == [] and not spy.granted
        collector.close()
    finally:
        a.loop_stop()
        spy.close()


def test_station_cannot_join_the_collectors_shared_subscription(broker):
    """acl_file let it join: the broker then gave it every other message and, refusing to deliver them, lost them."""
    collector = Recorder(broker, "$share/forecourt/forecourt/v1/#", username="collector")
    thief = Recorder(broker, "$share/forecourt/forecourt/v1/#", username="a")
    b = connect(broker, "b")
    try:
        assert collector.granted
        assert not thief.granted  # "Not authorized" in the SUBACK
        sent = send_events(b, "b", 20, "b")
        assert collector.wait_for(lambda msgs: len(msgs) >= 20), f"{len(collector.messages)} of 20 arrived"
        assert payloads(collector) == sent and thief.messages == []
    finally:
        b.loop_stop()
        thief.close()
        collector.close()


@pytest.mark.parametrize(
    ("victim", "victim_client_id", "topic"),
    [
        ("collector", "forecourt-collector-1", "forecourt/v1/#"),  # the collector's default client id
        ("b", "forecourt-b", "forecourt/v1/b/ack"),  # another station, connected under a name it might use
    ],
)
def test_station_cannot_take_over_another_clients_session(broker, victim, victim_client_id, topic):
    observer = Recorder(broker)
    held = Recorder(broker, topic, username=victim, client_id=victim_client_id)
    b = held.client if victim == "b" else connect(broker, "b")
    try:
        sent = send_events(b, "b", 10, "before")
        for client_id in (victim_client_id, victim):
            intruder = connect(broker, "a", client_id=client_id)  # the broker names it "a" whatever it asks for
            try:
                sent += send_events(b, "b", 5, f"during-{client_id}")
            finally:
                intruder.disconnect()
                intruder.loop_stop()
        receiver = held if victim == "collector" else observer
        assert receiver.wait_for(lambda msgs: len(msgs) >= len(sent)), f"{len(receiver.messages)} of {len(sent)}"
        assert payloads(receiver) == sent
        assert held.disconnects == []  # never pushed out
    finally:
        if b is not held.client:
            b.loop_stop()
        held.close()
        observer.close()


@pytest.mark.parametrize("retain", [True, False])
@pytest.mark.parametrize("channel", ["config", "ack"])
def test_station_cannot_publish_to_its_own_downlink(broker, channel, retain):
    topic = f"forecourt/v1/a/{channel}"
    observer = Recorder(broker)
    assert attempt(broker, "a", topic, b'{"forged": true}', retain=retain) == "Not authorized"
    honest = connect(broker, "a")
    try:
        publish(honest, "forecourt/v1/a/event/rating", b'{"own": true}')
        assert observer.wait_for(lambda msgs: len(msgs) >= 1)
    finally:
        honest.disconnect()
        honest.loop_stop()
    assert [t for t, _, _ in observer.messages] == ["forecourt/v1/a/event/rating"]
    # Nothing was retained: a subscriber arriving now gets only what the collector sends after it.
    late = Recorder(broker, topic, username="a")
    collector = connect(broker, "collector")
    try:
        assert late.granted
        publish(collector, topic, b'{"from": "hq"}')
        assert late.wait_for(lambda msgs: len(msgs) >= 1)
        assert late.snapshot() == [(topic, b'{"from": "hq"}', False)]
    finally:
        collector.loop_stop()
        late.close()
        observer.close()


def test_largest_allowed_message_passes_on_the_longest_topic(tmp_path):
    longest = "s" * 64
    with Mosquitto(tmp_path / "broker", users={**STATION_USERS, longest: "pw"}, collectors=COLLECTORS) as broker:
        observer = Recorder(broker)
        topic = event_topic(longest, max(EVENT_KINDS, key=len))
        assert attempt(broker, longest, topic, b"x" * MAX_PAYLOAD_BYTES) == "Success"
        assert observer.wait_for(lambda msgs: len(msgs) == 1)
        assert observer.snapshot() == [(topic, b"x" * MAX_PAYLOAD_BYTES, False)]
        observer.close()


CLOSED = "Client a disconnected due to oversize packet"


@pytest.mark.parametrize(
    ("size", "protocol", "logged"),
    [
        (MAX_PAYLOAD_BYTES + 1, V5, ""),  # message_size_limit: dropped, "Packet too large" in the PUBACK
        (MAX_PAYLOAD_BYTES + 1, V311, ""),  # no reason codes in 3.1.1: dropped all the same
        (MAX_PAYLOAD_BYTES + 2048, V5, CLOSED),  # max_packet_size: the connection is closed
        (1_000_000, V311, CLOSED),
    ],
)
def test_station_cannot_publish_above_the_size_limit(broker, size, protocol, logged):
    observer = Recorder(broker)
    b = connect(broker, "b")
    try:
        sent = send_events(b, "b", 10, "before")
        attempt(broker, "a", "forecourt/v1/a/event/rating", b"x" * size, protocol=protocol)
        assert logged in broker.log  # paho calls both a "Protocol error"; the broker's log tells them apart
        sent += send_events(b, "b", 10, "after")
        assert observer.wait_for(lambda msgs: len(msgs) >= len(sent)), f"{len(observer.messages)} of {len(sent)}"
        assert payloads(observer) == sent  # and the oversize one is not among them
    finally:
        b.loop_stop()
        observer.close()


@pytest.mark.parametrize(
    "topic",
    ["forecourt/v1/b/ack", "forecourt/v1/b/config", "forecourt/v1/+/ack", "forecourt/v1/#", "#", "$SYS/#",
     "forecourt/v1/a/#", "$share/x/forecourt/v1/a/ack"],
)
def test_station_cannot_subscribe_beyond_its_own_downlink(broker, topic):
    spy = Recorder(broker, topic, username="a")
    b = Recorder(broker, "forecourt/v1/b/ack", username="b")
    observer = Recorder(broker)
    collector = connect(broker, "collector")
    try:
        assert not spy.granted and b.granted
        publish(b.client, "forecourt/v1/b/event/rating", b'{"b": 1}')
        publish(collector, "forecourt/v1/b/ack", b'{"ack": 1}')
        publish(collector, "forecourt/v1/a/ack", b'{"ack": 2}')
        assert b.wait_for(lambda msgs: len(msgs) >= 1) and observer.wait_for(lambda msgs: len(msgs) >= 3)
        assert spy.messages == []
    finally:
        collector.loop_stop()
        for recorder in (observer, b, spy):
            recorder.close()


@pytest.mark.parametrize(
    "topic",
    ["forecourt/v1/#", "forecourt/v1/+/event/+", "forecourt/v1/+/status", "$share/forecourt/forecourt/v1/#",
     "$share/any-group/forecourt/v1/+/health", "$share/g2/forecourt/v1/+/event/+"],
)
def test_collectors_subscribe_plainly_or_in_any_share_group(broker, topic):
    collector = Recorder(broker, topic, username="collector")
    a = connect(broker, "a")
    try:
        assert collector.granted
        for channel in ("event/rating", "health", "status"):
            publish(a, f"forecourt/v1/a/{channel}", b"{}")
        assert collector.wait_for(lambda msgs: len(msgs) >= 1)
    finally:
        a.loop_stop()
        collector.close()


def test_station_reads_its_own_ack_and_retained_config_from_the_collector(broker):
    collector = connect(broker, "collector")
    try:
        publish(collector, "forecourt/v1/a/config", b'{"v": 1}', retain=True)
        station = Recorder(broker, "forecourt/v1/a/config", username="a")
        assert station.wait_for(lambda msgs: msgs == [("forecourt/v1/a/config", b'{"v": 1}', True)])
        station.close()
    finally:
        collector.loop_stop()


def test_collector_cannot_subscribe_outside_forecourt(broker):
    for topic in ("#", "$SYS/#", "$share/g/#"):
        recorder = Recorder(broker, topic, username="collector")
        assert not recorder.granted, topic
        recorder.close()


def test_dynsec_file_is_private_and_its_passwords_verify(tmp_path):
    broker = Mosquitto(tmp_path, users={"a": "pw", "collector": "pw-c"})
    assert broker.dynsec_file.stat().st_mode & 0o077 == 0
    clients = read_clients(broker.dynsec_file)
    assert sorted(clients) == ["a", "collector"]
    assert clients["collector"].collector and not clients["a"].collector
    assert clients["a"].hashed["iterations"] == 101 and verify_password("pw", clients["a"].hashed)
    assert not verify_password("other", clients["a"].hashed)
    assert broker.process is None
    assert COLLECTOR_ROLE in broker.dynsec_file.read_text()


def test_add_users_on_a_running_broker_lets_the_new_station_in(broker):
    with pytest.raises(Refused):
        connect(broker, "c", "secret-c")
    broker.add_users({"c": "secret-c"})
    observer = Recorder(broker)
    c = connect(broker, "c")
    try:
        publish(c, "forecourt/v1/c/event/rating", b"{}")
        assert observer.wait_for(lambda msgs: [t for t, _, _ in msgs] == ["forecourt/v1/c/event/rating"])
        assert attempt(broker, "c", "forecourt/v1/a/event/rating", b"{}") == "Not authorized"
    finally:
        c.loop_stop()
        observer.close()


def test_kill_is_a_crash_and_the_broker_starts_again(broker):
    pid = broker.pid
    assert pid is not None
    broker.kill()
    assert broker.pid is None and "terminating" not in broker.log  # no clean shutdown
    broker.start()
    assert broker.pid not in (None, pid)
    connect(broker, "a").loop_stop()


def test_two_collectors_under_their_own_usernames_split_the_fleet_and_lose_nothing(broker):
    first = Recorder(broker, "$share/forecourt/forecourt/v1/#", username="collector")
    second = Recorder(broker, "$share/forecourt/forecourt/v1/#", username="observer")
    b = connect(broker, "b")
    try:
        sent = send_events(b, "b", 20, "b")
        assert wait_until(lambda: len(first.messages) + len(second.messages) >= 20)
        assert sorted(payloads(first) + payloads(second)) == sorted(sent)
        assert first.messages and second.messages and first.disconnects == second.disconnects == []
    finally:
        b.loop_stop()
        first.close()
        second.close()


def test_a_second_connection_under_one_username_pushes_the_first_out(broker):
    first = Recorder(broker, username="collector", client_id="one")
    second = Recorder(broker, username="collector", client_id="two")
    try:
        assert wait_until(lambda: len(first.disconnects) >= 1)
        first.client.loop_stop()  # else paho reconnects it, pushing the second out in turn
        assert "Client collector already connected, closing old connection." in broker.log
    finally:
        first.client.loop_stop()
        second.close()
