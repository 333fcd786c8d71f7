"""The gpiozero adapter end to end: MockFactory pins driven as a finger and a bouncing contact would.

Time is a fake clock the test advances; gpiozero's mock pins call back synchronously inside
``drive_low``/``drive_high``, so every list below is deterministic.
"""

import time

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPin

from edge.config import StationConfig
from edge.events import ListSink
from edge.sensors import build_sensors
from edge.sensors.gpio import Indicator
from edge.sensors.indicators import Beep, Blink
from forecourt.errors import ConfigError
from tests.drafting import draft
from tests.mock_station import (
    KIOSK,
    ROOM,
    SCORE_PIN,
    T0,
    FakeClock,
    Station,
    cleaning,
    filtered,
    rating,
    stuck,
)


def test_mock_pin_callbacks_are_synchronous():
    station = Station({"kiosks": [KIOSK]})
    station.factory.pin(9).drive_low()
    station.clock.now += 0.1
    station.factory.pin(9).drive_high()  # the release edge itself confirms the press ...
    assert station.sink.drafts == []
    assert station.sensors.stats()["edges"] == 2
    station.clock.now += 0.05
    station.sensors.tick()  # ... and the next tick its release, which makes it a rating
    assert station.sink.drafts == [rating(0, 5)]


def test_scripted_kiosk_session_gives_exactly_the_expected_events():
    station = Station({"kiosks": [KIOSK]})
    scores = [5, 4, 3, 1, 2] * 4
    for i, score in enumerate(scores):  # 20 clean presses, 5 s apart
        station.press(SCORE_PIN[score], at=5 * i)
        if i == 3:
            station.press(11, at=5 * i + 2)  # a reason 2 s after the first score 1
    for i in range(5):  # 5 bouncy presses of score 4
        station.press(SCORE_PIN[4], at=100 + 5 * i, bounces=4)
    for i in range(10):  # a burst of 10 presses in 2 s
        station.press(SCORE_PIN[5], at=130 + 0.2 * i, hold=0.08)
    station.press(SCORE_PIN[3], at=140, hold=30)  # held for 30 s
    station.run_until(T0 + 180)

    expected = [rating(5 * i, score, "cleanliness" if i == 3 else None) for i, score in enumerate(scores)]
    expected += [rating(100 + 5 * i, 4) for i in range(5)]
    expected += [rating(130, 5), filtered(130.2, "burst", 9, 1.6)]  # one child, one rating
    expected += [
        filtered(140, "stuck"),  # held for 30 s: no rating
        stuck("open", 150, 10.0, "exit: score 3 button (pin 22) held for more than 10 s"),
        stuck("cleared", 170, 30.0, "exit: score 3 button (pin 22) released after 30 s"),
    ]
    assert station.sink.drafts == expected
    stats = station.sensors.stats()
    assert stats["filtered_presses"] == {"exit": 10}
    assert stats["ratings"] == {"exit": 26}
    assert stats["stuck"] == []


def test_stuck_button_shows_in_stats_while_held():
    station = Station({"kiosks": [KIOSK]})
    station.factory.pin(SCORE_PIN[2]).drive_low()
    station.run_until(T0 + 12)
    assert station.sensors.stats()["stuck"] == [{"kiosk": "exit", "button": 2}]


def test_thank_you_led_lights_for_a_counted_rating_only():
    station = Station({"kiosks": [KIOSK]})
    led = station.factory.pin(12)
    station.press(SCORE_PIN[5], at=0)
    station.run_until(T0 + 1)
    assert led.state is True
    assert station.sensors.outputs() == {"kiosks[exit].thank_you_led": "on"}
    station.run_until(T0 + 2.5)
    assert led.state is False
    station.press(SCORE_PIN[5], at=3)  # inside the response interval
    station.run_until(T0 + 3.6)
    assert led.state is False


def test_noise_spikes_shorter_than_bounce_time_are_not_ratings():
    station = Station({"kiosks": [KIOSK]})
    for i in range(5):
        station.press(SCORE_PIN[5], at=10 * i, hold=0.005)
    station.run_until(T0 + 60)
    assert station.sink.drafts == []
    assert station.sensors.stats()["edges"] == 10


def test_button_down_before_start_up_is_no_rating_but_a_stuck_alert():
    class ShortedToGround(MockPin):
        """A wire shorted to ground: the internal pull-up cannot lift it (as MockChargingPin models a circuit)."""

        def _set_pull(self, value):
            self._pull = value
            self.drive_low()

    factory = MockFactory()
    factory.pin(SCORE_PIN[1], pin_class=ShortedToGround)
    station = Station({"kiosks": [KIOSK]}, factory=factory)
    station.run_until(T0 + 11)
    assert [(d.kind, d.fields["state"], d.at) for d in station.sink.drafts] == [("alert", "open", T0 + 10)]


def test_scripted_restroom_shift_gives_exactly_the_expected_events():
    station = Station({"restrooms": [ROOM]}, tick_s=1.0)
    station.press(5, at=0)
    station.press(5, at=1800, bounces=5)  # half an hour later: a cleaning
    station.press(5, at=1900)  # 100 s later: cannot be a cleaning
    for offset in (2200, 2203, 2206):  # a burst
        station.press(5, at=offset)
    station.run_until(T0 + 5500)  # 100 s past due
    assert station.sensors.outputs() == {"restrooms[ladies].led": "blink"}
    assert station.sensors.stats()["overdue"] == [{"restroom": "ladies", "overdue_s": 100.0}]
    station.press(5, at=5500)

    def overdue(state, at, value, message):
        fields = {
            "alert": "restroom_overdue",
            "state": state,
            "subject": "ladies",
            "message": message,
            "value": value,
        }
        return draft("alert", T0 + at, fields)

    assert station.sink.drafts == [
        cleaning(0, None, None),
        cleaning(1800, None, 1800.0),
        cleaning(1900, "too_soon", 100.0),
        cleaning(2200, "catch_up", 400.0),
        cleaning(2203, "catch_up", 403.0),
        cleaning(2206, "burst", 406.0),
        overdue(
            "open", 5400, 0.0, "Ladies: no cleaning check-in for 60 min of active hours since the last one"
        ),
        cleaning(5500, None, 3700.0),
        overdue("cleared", 5500, 100.0, "Ladies checked in 2 min overdue"),
    ]
    station.run_until(T0 + 5501)
    assert station.sensors.outputs() == {"restrooms[ladies].led": "on"}
    assert station.sensors.stats()["check_ins"] == {"ladies": 7}
    assert station.sensors.stats()["flagged_check_ins"] == {"ladies": 4}


def test_buzzer_chirps_on_check_in():
    station = Station({"restrooms": [ROOM]})
    buzzer = station.factory.pin(13)
    buzzer.clear_states()
    station.press(5, at=0)
    station.run_until(T0 + 1)
    deadline = time.monotonic() + 0.5
    while [s.state for s in buzzer.states] != [False, True, False] and time.monotonic() < deadline:
        time.sleep(0.01)  # gpiozero times the 80 ms chirp in its own thread
    assert [s.state for s in buzzer.states] == [False, True, False]


def test_indicator_renders_blink_and_touches_the_pin_only_on_change():
    factory = MockFactory()
    led = Indicator.led(6, pin_factory=factory)
    pin = factory.pin(6)
    led.show(Blink(0.01, 0.01))
    deadline = time.monotonic() + 0.5
    while len(pin.states) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [s.state for s in pin.states[:5]] == [False, True, False, True, False]
    led.show(Blink(0.01, 0.01))  # same pattern: the running blink is left alone
    led.beep(Beep(1, 0.01, 0.01))
    assert led.pattern is None
    led.close()


def test_two_stations_in_one_process_keep_their_own_factories():
    before = Device.pin_factory
    one, two = Station({"kiosks": [KIOSK]}), Station({"kiosks": [KIOSK]})
    one.press(SCORE_PIN[5], at=0)
    two.press(SCORE_PIN[1], at=0)
    one.run_until(T0 + 10)
    two.run_until(T0 + 10)
    assert one.sink.drafts == [rating(0, 5)]
    assert two.sink.drafts == [rating(0, 1)]
    assert Device.pin_factory is before


def test_no_pin_factory_means_gpiozeros_default(mock_factory):
    clock, sink = FakeClock(), ListSink()
    cfg = StationConfig.model_validate({"station": {"id": "s1"}, "kiosks": [KIOSK]})
    with build_sensors(cfg, sink, clock=clock) as sensors:
        mock_factory.pin(SCORE_PIN[4]).drive_low()
        clock.now += 0.1
        mock_factory.pin(SCORE_PIN[4]).drive_high()
        clock.now += 0.05  # the release settles
        sensors.tick()
    assert sink.drafts == [rating(0, 4)]


def test_refused_drafts_are_kept_in_order_and_retried_on_the_next_tick():
    class FlakySink(ListSink):
        fail = True

        def emit(self, draft):
            if self.fail:
                raise OSError("disk full")
            super().emit(draft)

    factory, clock, sink = MockFactory(), FakeClock(), FlakySink()
    cfg = StationConfig.model_validate(
        {"station": {"id": "s1"}, "kiosks": [KIOSK | {"response_interval_s": 0}]}
    )
    sensors = build_sensors(cfg, sink, pin_factory=factory, clock=clock)
    for score, at in ((5, 0), (4, 1)):
        clock.now = T0 + at
        factory.pin(SCORE_PIN[score]).drive_low()
        clock.now += 0.1
        factory.pin(SCORE_PIN[score]).drive_high()
    clock.now += 0.05  # the second release settles
    sensors.tick()
    assert sensors.stats()["unsent"] == 2
    sink.fail = False
    sensors.tick()
    assert sink.drafts == [rating(0, 5), rating(1, 4)]
    sensors.close()


def test_unknown_time_zone_is_a_config_error():
    cfg = StationConfig.model_validate(
        {"station": {"id": "s1", "timezone": "Mars/Olympus"}, "restrooms": [ROOM]}
    )
    with pytest.raises(ConfigError, match="station.timezone: 'Mars/Olympus'"):
        build_sensors(cfg, ListSink(), pin_factory=MockFactory())


def test_close_releases_every_pin_and_is_idempotent():
    station = Station({"kiosks": [KIOSK], "restrooms": [ROOM]})
    station.sensors.close()
    station.sensors.close()
    again = Station({"kiosks": [KIOSK], "restrooms": [ROOM]}, factory=station.factory)
    again.sensors.close()


def test_a_pin_the_board_lacks_fails_the_build_and_releases_the_pins_already_claimed():
    factory = MockFactory()  # a Pi 3B header: GPIO 0-27
    bad = {"kiosks": [KIOSK], "restrooms": [ROOM | {"button_pin": 40}]}
    with pytest.raises(ConfigError, match=r"restrooms\[0\]\.button_pin: GPIO40 cannot be used on this board"):
        Station(bad, factory=factory)
    Station({"kiosks": [KIOSK], "restrooms": [ROOM]}, factory=factory).sensors.close()
