"""Issue 21's kiosk and cleaning cases, scripted on MockFactory pins as hardware drives them (bounces included).

Each test states the truth - what a chain counts - and compares the whole list of drafts with it.
"""

import pytest

from tests.mock_station import KIOSK, ROOM, SCORE_PIN, T0, Station, cleaning, filtered, rating, stuck


@pytest.mark.parametrize(("presses", "span_s"), [(20, 8.0), (60, 30.0)])
def test_a_child_hammering_a_button_is_one_rating_and_one_burst_record(presses, span_s):
    station = Station({"kiosks": [KIOSK]}, tick_s=0.25)
    gap = span_s / presses
    for i in range(presses):
        station.press(SCORE_PIN[5], at=10 + i * gap, hold=0.08, bounces=2)
    station.run_until(T0 + 10 + span_s + 5)
    last = round((presses - 1) * gap - gap, 3)
    assert station.sink.drafts == [rating(10, 5), filtered(10 + gap, "burst", presses - 1, last)]
    assert station.sensors.stats()["filtered_presses"] == {"exit": presses - 1}


def test_a_25_s_held_press_is_no_rating_but_a_stuck_press_and_its_alert():
    station = Station({"kiosks": [KIOSK]})
    station.press(SCORE_PIN[4], at=10, hold=25, bounces=3)
    station.run_until(T0 + 40)
    assert station.sink.drafts == [
        filtered(10, "stuck"),
        stuck("open", 20, 10.0, "exit: score 4 button (pin 10) held for more than 10 s"),
        stuck("cleared", 35, 25.0, "exit: score 4 button (pin 10) released after 25 s"),
    ]


def test_a_press_held_past_the_hold_limit_is_filtered_as_held_at_its_release():
    station = Station({"kiosks": [KIOSK | {"hold_limit_s": 3}]})
    station.press(SCORE_PIN[2], at=10, hold=5, bounces=3)
    station.run_until(T0 + 20)
    assert station.sink.drafts == [filtered(10, "held")]
    assert station.sensors.stats()["ratings"] == {"exit": 0}


def test_a_wire_that_shorts_while_running_is_no_rating_before_its_stuck_alert():
    station = Station({"kiosks": [KIOSK]})
    station.run_until(T0 + 5)
    station.factory.pin(SCORE_PIN[1]).drive_low()  # shorted to ground, and it stays so
    station.run_until(T0 + 30)
    assert station.sink.drafts == [
        filtered(5, "stuck"),
        stuck("open", 15, 10.0, "exit: score 1 button (pin 17) held for more than 10 s"),
    ]


def test_two_buttons_pressed_4_ms_apart_are_flagged_and_the_second_is_filtered():
    station = Station({"kiosks": [KIOSK]})
    station.run_until(T0 + 10)
    first, second = station.factory.pin(SCORE_PIN[4]), station.factory.pin(SCORE_PIN[5])
    first.drive_low()
    station.clock.now = T0 + 10.002
    first.drive_high()  # a bounce
    station.clock.now = T0 + 10.004
    first.drive_low()
    second.drive_low()
    station.run_until(T0 + 10.2)
    first.drive_high()
    second.drive_high()
    station.run_until(T0 + 20)
    assert station.sink.drafts == [rating(10, 4, flag="simultaneous"), filtered(10.004, "simultaneous")]


def test_a_customer_after_the_child_is_rated_again():
    station = Station({"kiosks": [KIOSK]})
    for i in range(6):
        station.press(SCORE_PIN[1], at=10 + 0.5 * i, hold=0.1, bounces=1)
    station.press(SCORE_PIN[4], at=20, bounces=2)  # 7.5 s after the child's last press
    station.run_until(T0 + 30)
    assert station.sink.drafts == [rating(10, 1), filtered(10.5, "burst", 5, 2.0), rating(20, 4)]


def test_four_catch_up_check_ins_six_minutes_apart_at_shift_end_are_one_cleaning():
    station = Station({"restrooms": [ROOM]}, tick_s=1.0)
    station.press(5, at=0, bounces=3)
    for k in range(4):  # the shift ends: 50 min later, four check-ins in a row
        station.press(5, at=3000 + 360 * k, bounces=3)
    station.run_until(T0 + 5000)

    assert station.sink.drafts == [
        cleaning(0, None, None),
        cleaning(3000, None, 3000.0),
        cleaning(3360, "catch_up", 360.0),
        cleaning(3720, "catch_up", 720.0),
        cleaning(4080, "catch_up", 1080.0),
    ]
    assert station.sensors.stats()["flagged_check_ins"] == {"ladies": 3}
