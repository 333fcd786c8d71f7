"""HQ's settings applied to running logic without a restart: sensors on MockFactory pins, the vision scene."""

from edge.config import StationConfig
from edge.events import ListSink
from edge.fleet.overlay import Effective, overlay
from edge.sensors import build_sensors
from edge.vision.pipeline import Scene, _uniforms
from tests.mock_station import FakeClock

T0 = 1_795_430_000.0
STATION = StationConfig.model_validate({
    "station": {"id": "a"},
    "restrooms": [{"id": "ladies", "button_pin": 5, "interval_min": 60}],
    "kiosks": [{"id": "shop", "location": "shop", "scale": 3, "buttons": [17, 27, 22], "response_interval_s": 4}],
    "zones": [{"id": "bay-1", "kind": "pump_bay", "polygon": [[0, 0], [10, 0], [10, 10]]},
              {"id": "road", "polygon": [[0, 0], [5, 0], [5, 5]]}],
})


def hq(settings: dict) -> StationConfig:
    effective = overlay(STATION, settings)
    assert isinstance(effective, Effective), effective
    return effective.config


def tap(factory, clock: FakeClock, pin: int) -> None:
    factory.pin(pin).drive_low()
    clock.now += 0.2
    factory.pin(pin).drive_high()


def test_sensors_take_new_rules_live_and_keep_the_restrooms_clock(mock_factory):
    clock, sink = FakeClock(T0), ListSink()
    with build_sensors(STATION, sink, pin_factory=mock_factory, clock=clock) as sensors:
        tap(mock_factory, clock, 5)  # ladies cleaned at T0
        clock.now = T0 + 10
        sensors.tick()
        sensors.retune(hq({"restrooms.interval_min": 1, "kiosks.response_interval_s": 0.5}))
        clock.now = T0 + 59
        sensors.tick()
        assert [d.kind for d in sink.drafts] == ["cleaning"]  # due one minute after T0's cleaning, not before
        clock.now = T0 + 61
        sensors.tick()
        alert = sink.drafts[-1]
        assert (alert.kind, alert.fields["state"], alert.at) == ("alert", "open", T0 + 60.0)
        tap(mock_factory, clock, 22)
        clock.now += 1.0  # 1 s later: the same person by the file's 4 s, a new one by HQ's 0.5 s
        tap(mock_factory, clock, 17)
        clock.now += 1.0
        sensors.tick()
        assert [d.fields["score"] for d in sink.drafts if d.kind == "rating"] == [3, 1]


def test_the_scene_takes_new_zone_thresholds_live():
    scene = Scene.from_config(STATION.zones)
    new = hq({"zones.confirm_s": 0.5, "zones.bay-1.roll_up_s": 6, "zones.bay-1.greet_confirm_s": 4,
              "zones.bay-1.uniform_colour": "#ff0000"})
    scene.retune(new.zones)
    bay = scene.bays[0]
    assert [z.confirm_s for z in scene.zones] == [0.5, 0.5]
    assert (bay.bay.confirm_s, bay.roll_up_s, bay.service.confirm_s, bay.origins.uniform_required) == (0.5, 6, 4, True)
    assert _uniforms(new.zones) == {"bay-1": ((0, 0, 255), 60.0)}
