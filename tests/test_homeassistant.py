"""Home Assistant MQTT discovery: the documents against Home Assistant's documented keys (a table), and the
bridge against a real Mosquitto standing in for the station's Home Assistant broker: retained once, not
again when Home Assistant restarts, cleared when an entity goes, sent again only what the broker lost."""

import re
import shutil
import subprocess
import time

import pytest

from edge.config import HomeAssistantSettings, StationConfig
from edge.events import Draft
from edge.link.ha_bridge import SETTLE_S, HomeAssistantBridge
from edge.link.homeassistant import HaTopics, discovery_documents, kiosk_event, object_id, state_document
from edge.station_view import build_view
from edge.today import DayTally
from forecourt.broker import free_port, wait_for_port
from forecourt.protocol import RatingBody, Status
from tests.waiting import wait_until

STATION = {
    "station": {"id": "oslo-01", "name": "Oslo Sentrum", "timezone": "Europe/Oslo"},
    "restrooms": [{"id": "ladies", "name": "Ladies", "button_pin": 5}, {"id": "gents.1", "button_pin": 6}],
    "kiosks": [{"id": "shop", "location": "shop", "scale": 4, "buttons": [17, 27, 22, 10]}],
    "camera": {"source": "0"},
}
BIRTH = Status(state="online", version="0.1.0", config_hash="abc", started_at="2026-12-03T09:00:00.000Z")

# From Home Assistant's MQTT integration pages (sensor, binary_sensor, event, "MQTT Discovery"): the keys
# these documents may use, those each component requires, and the classes they may name.
COMMON = {"name", "unique_id", "device", "origin", "availability", "state_topic", "value_template", "device_class",
          "icon", "entity_category", "availability_mode", "json_attributes_topic", "enabled_by_default", "qos"}
ALLOWED = {
    "sensor": COMMON | {"unit_of_measurement", "state_class", "expire_after", "force_update", "suggested_display_precision"},
    "binary_sensor": COMMON | {"payload_on", "payload_off", "expire_after", "force_update", "off_delay"},
    "event": COMMON | {"event_types"},
}
REQUIRED = {"sensor": {"state_topic"}, "binary_sensor": {"state_topic"}, "event": {"state_topic", "event_types"}}
DEVICE_CLASSES = {
    "sensor": {"timestamp", "duration"}, "binary_sensor": {"problem", "running", "connectivity"}, "event": {"button"},
}
DEVICE_KEYS = {"identifiers", "name", "manufacturer", "model", "sw_version", "serial_number", "configuration_url",
               "hw_version", "suggested_area", "via_device", "connections"}
TOPIC = re.compile(r"^homeassistant/(sensor|binary_sensor|event)/[a-zA-Z0-9_-]+/[a-zA-Z0-9_-]+/config$")


def config(**changes) -> StationConfig:
    return StationConfig.model_validate({**STATION, **changes})


@pytest.mark.parametrize(("text", "expected"), [
    ("ladies", r"ladies"), ("bay-1", r"bay-1"), ("gents.1", r"gents_1_[0-9a-f]{6}"), ("a:b", r"a_b_[0-9a-f]{6}"),
])
def test_object_ids_keep_safe_ids_and_mark_changed_ones(text, expected):
    assert re.fullmatch(expected, object_id(text))
    assert object_id("a.b") != object_id("a:b")  # both sanitise to a_b; the hash keeps them apart


def test_discovery_documents_use_only_documented_keys_and_values():
    documents = discovery_documents(config(), version="0.1.0", page_url="http://127.0.0.1:8081/")
    topics = HaTopics("homeassistant", "oslo-01")
    assert len(documents) == 2 * 2 + 1 + 2 + 4 + 2  # restrooms, kiosk, today, camera, link and outbox
    unique_ids = [d["unique_id"] for d in documents.values()]
    assert len(set(unique_ids)) == len(unique_ids)
    for topic, doc in documents.items():
        component = TOPIC.match(topic).group(1)
        assert set(doc) <= ALLOWED[component], topic
        assert REQUIRED[component] <= set(doc), topic
        assert doc.get("device_class", next(iter(DEVICE_CLASSES[component]))) in DEVICE_CLASSES[component]
        assert doc.get("state_class", "measurement") in {"measurement", "total", "total_increasing"}
        assert doc.get("entity_category", "diagnostic") == "diagnostic"
        assert set(doc["device"]) <= DEVICE_KEYS and doc["device"]["identifiers"] == ["forecourt_oslo-01"]
        assert doc["availability"] == [{"topic": topics.status, "value_template": "{{ value_json.state }}",
                                        "payload_available": "online", "payload_not_available": "offline"}]
        assert topic.split("/")[3] in doc["unique_id"]
    event = documents["homeassistant/event/forecourt_oslo-01/kiosk_shop/config"]
    assert event["event_types"] == ["score_1", "score_2", "score_3", "score_4"]
    assert event["state_topic"] == "forecourt/v1/oslo-01/ha/kiosk/shop"
    assert documents["homeassistant/sensor/forecourt_oslo-01/restroom_ladies_last_cleaned/config"]["name"] == "Ladies last cleaned"


def test_unique_ids_depend_on_config_ids_only():
    renamed = config(restrooms=[{"id": "ladies", "name": "Damer", "button_pin": 5}, {"id": "gents.1", "button_pin": 6}])
    before = {t: d["unique_id"] for t, d in discovery_documents(config(), version="1").items()}
    after = {t: d["unique_id"] for t, d in discovery_documents(renamed, version="2").items()}
    assert before == after
    without_camera = discovery_documents(config(camera=None), version="1")
    assert not any("camera" in t or "cars_today" in t for t in without_camera)


def view_of(cfg: StationConfig, tally: DayTally, now: float):
    return build_view(config=cfg, version="0.1.0", now=now, started_at=now - 60, today=tally.figures(now),
                      sensors={"overdue": [{"restroom": "ladies", "overdue_s": 120.0}]}, vision=None,
                      vision_error=None, outbox=None, link=None)


def rating(score: int, at: float) -> Draft:
    return Draft(at, RatingBody(kiosk="shop", location="shop", score=score, scale=4))


def test_every_stateful_entity_finds_its_field_in_the_state_document():
    cfg, now = config(), 1_764_752_400.0
    tally = DayTally(kiosk_scales={"shop": 4}, restrooms=["ladies", "gents.1"], timezone="Europe/Oslo",
                     started_at=now - 60, last_check_ins={"ladies": now - 3600})
    for score in (4, 4, 1):
        tally.record(rating(score, now - 10))
    state = state_document(view_of(cfg, tally, now))
    for doc in discovery_documents(cfg, version="1").values():
        if "value_template" in doc:
            (field,) = re.findall(r"value_json\['([^']+)'\]", doc["value_template"])
            assert field in state
    assert state["happy_index_today"] == pytest.approx(round(100 * (1 + 1 + 0) / 3, 1))
    assert state["ratings_today"] == 3
    assert state["restroom_ladies_overdue"] is True and state[f"{object_id('restroom_gents.1')}_overdue"] is False
    assert state["restroom_ladies_last_cleaned"].startswith("2025-12-03T")
    assert state["camera_running"] is False and state["link_connected"] is False
    assert kiosk_event(rating(2, now).body) == {"event_type": "score_2", "score": 2, "scale": 4, "reason": None}


# -- against a real broker ----------------------------------------------------------------------------------


@pytest.fixture
def ha_broker(tmp_path):
    """A plain Mosquitto as Home Assistant's add-on runs one on a LAN: anonymous, no persistence."""
    port = free_port()
    conf = tmp_path / "ha.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


class Watcher:
    """An anonymous client that keeps (topic, payload, retained) of everything under the filters."""

    def __init__(self, url: str, *filters: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.seen: list[tuple[str, bytes, bool]] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTProtocolVersion.MQTTv311)
        self.client.on_message = lambda _c, _u, m: self.seen.append((m.topic, bytes(m.payload), bool(m.retain)))
        host, port = url.removeprefix("mqtt://").split(":")
        self.client.connect(host, int(port))
        self.client.loop_start()
        acked = []
        self.client.on_subscribe = lambda *_args: acked.append(1)
        for topic in filters:
            self.client.subscribe(topic, qos=1)
        assert wait_until(lambda: len(acked) == len(filters), 5)

    def holds(self) -> dict[str, bytes]:
        """What the broker holds, as far as this watcher has heard (a live message may still be on its way
        when we subscribe; an empty payload clears)."""
        held: dict[str, bytes] = {}
        for topic, payload, _ in self.seen:
            if payload:
                held[topic] = payload
            else:
                held.pop(topic, None)
        return held

    def retained(self) -> dict[str, bytes]:
        """What came with the retain flag: the broker held it when we subscribed."""
        return {t: p for t, p, r in self.seen if r and p}

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def bridge_for(url: str, cfg: StationConfig, clock: Clock) -> HomeAssistantBridge:
    settings = HomeAssistantSettings(enabled=True, url=url)
    bridge = HomeAssistantBridge(settings, cfg, birth=BIRTH, version="0.1.0", clock=clock).start()
    assert bridge.connected.wait(5)
    return bridge


def settle(bridge: HomeAssistantBridge, clock: Clock, view) -> None:
    time.sleep(0.3)  # retained copies of our own documents come back to us
    clock.now += SETTLE_S
    bridge.tick(view)


def test_discovery_is_retained_once_cleared_on_removal_and_resent_only_when_lost(ha_broker):
    cfg, clock, now = config(), Clock(), time.time()
    tally = DayTally(kiosk_scales={"shop": 4}, restrooms=["ladies", "gents.1"], timezone="Europe/Oslo", started_at=now)
    view = view_of(cfg, tally, now)
    bridge = bridge_for(ha_broker, cfg, clock)
    settle(bridge, clock, view)
    wanted = set(bridge.wanted)
    assert bridge.published_configs == len(wanted)

    first = Watcher(ha_broker, "homeassistant/#", "forecourt/#")
    assert wait_until(lambda: set(first.holds()) >= wanted | {"forecourt/v1/oslo-01/ha/state"}, 5)  # all through
    first.close()
    fresh = Watcher(ha_broker, "homeassistant/#", "forecourt/#")  # Home Assistant starting now
    assert wait_until(lambda: set(fresh.retained()) >= wanted | {"forecourt/v1/oslo-01/ha/state"}, 5)
    assert len([t for t in fresh.retained() if t.endswith("/config")]) == len(wanted)
    assert b'"state":"online"' in fresh.retained()["forecourt/v1/oslo-01/status"]
    assert fresh.retained()["forecourt/v1/oslo-01/ha/state"].count(b"restroom_ladies_overdue\":true") == 1

    # Home Assistant restarts: its birth message makes the bridge compare, and the broker held everything.
    before = len(fresh.seen)
    fresh.publish("homeassistant/status", b"online")
    settle(bridge, clock, view)
    time.sleep(0.3)
    assert bridge.published_configs == len(wanted)
    assert [m for m in fresh.seen[before:] if m[0].endswith("/config")] == []

    # A kiosk rating is an event, sent once and never retained.
    bridge.drafted(rating(3, now))
    assert wait_until(lambda: any(t.endswith("/ha/kiosk/shop") for t, _, _ in fresh.seen), 5)
    assert [(p, r) for t, p, r in fresh.seen if t.endswith("/ha/kiosk/shop")] == [
        (b'{"event_type":"score_3","reason":null,"scale":4,"score":3}', False)]

    # The broker loses one document (e.g. restarted without persistence): only that one is sent again.
    lost = "homeassistant/sensor/forecourt_oslo-01/outbox_depth/config"
    fresh.publish(lost, b"", retain=True)
    assert wait_until(lambda: lost not in bridge.held, 5)
    fresh.publish("homeassistant/status", b"online")
    settle(bridge, clock, view)
    assert bridge.published_configs == len(wanted) + 1
    bridge.stop()
    assert wait_until(lambda: fresh.seen[-1][0] == "forecourt/v1/oslo-01/status" and b'"state":"offline"' in fresh.seen[-1][1], 5)
    fresh.close()

    # The station restarts with one restroom fewer: its two entities are cleared, nothing else is resent.
    smaller = config(restrooms=[{"id": "ladies", "name": "Ladies", "button_pin": 5}])
    bridge = bridge_for(ha_broker, smaller, clock)
    settle(bridge, clock, view_of(smaller, tally, now))
    gone = wanted - set(bridge.wanted)
    assert len(gone) == 2 and all("gents_1" in t for t in gone)
    assert bridge.published_configs == len(gone)
    later = Watcher(ha_broker, "homeassistant/#")
    assert wait_until(lambda: set(later.holds()) == set(bridge.wanted), 5)
    later.close()
    later = Watcher(ha_broker, "homeassistant/#")
    assert wait_until(lambda: set(later.retained()) == set(bridge.wanted), 5)
    later.close()
    bridge.stop()


def test_a_running_station_announces_itself_and_sends_kiosk_presses(broker, ha_broker, mock_factory, tmp_path):
    """The edge service with [homeassistant] on: discovery and state reach the station-local broker, a
    real (mock-pin) kiosk press arrives as an event, and the chain's broker sees none of it."""
    import threading

    from edge.service import EdgeService
    from tests.mqtt import Recorder

    chain = Recorder(broker, "#")
    cfg = StationConfig.model_validate({
        "station": {"id": "a", "name": "Alpha"}, "mqtt": {"url": broker.url, "username": "a", "password": broker.users["a"]},
        "outbox": {"path": str(tmp_path / "outbox.db")}, "homeassistant": {"enabled": True, "url": ha_broker},
        "kiosks": [{"id": "shop", "location": "shop", "scale": 3, "buttons": [17, 27, 22]}],
    })
    watcher = Watcher(ha_broker, "homeassistant/#", "forecourt/#")
    service = EdgeService(cfg, pin_factory=mock_factory, notify_systemd=False)
    runner = threading.Thread(target=service.run, daemon=True)
    runner.start()
    try:
        configs = lambda: {t for t, p, _ in watcher.seen if t.endswith("/config") and p}  # noqa: E731
        assert wait_until(lambda: len(configs()) == 1 + 2 + 2, 10)  # kiosk event, today x2, link and outbox
        assert wait_until(lambda: any(t == "forecourt/v1/a/ha/state" for t, _, _ in watcher.seen), 10)
        mock_factory.pin(22).drive_low()
        time.sleep(0.1)
        mock_factory.pin(22).drive_high()
        assert wait_until(lambda: any(t == "forecourt/v1/a/ha/kiosk/shop" and b'"score_3"' in p for t, p, _ in watcher.seen), 10)
        assert not any(t.startswith("homeassistant/") or "/ha/" in t for t, _, _ in chain.snapshot())
    finally:
        service.request_stop()
        runner.join(30)
        watcher.close()
        chain.close()
