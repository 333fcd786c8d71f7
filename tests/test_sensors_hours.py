"""Active hours in the station's zone: plain days, wrapping midnight, DST days."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from edge.sensors.hours import ActiveHours

OSLO = ZoneInfo("Europe/Oslo")
HOUR = 3600.0


def at(text: str, tz: ZoneInfo = OSLO) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


@pytest.mark.parametrize(
    ("hours", "when", "active"),
    [
        ("06:00-22:00", "2026-11-23 05:59:59", False),
        ("06:00-22:00", "2026-11-23 06:00:00", True),
        ("06:00-22:00", "2026-11-23 21:59:59", True),
        ("06:00-22:00", "2026-11-23 22:00:00", False),
        ("22:00-06:00", "2026-11-23 23:30:00", True),
        ("22:00-06:00", "2026-11-24 00:00:00", True),
        ("22:00-06:00", "2026-11-24 05:59:00", True),
        ("22:00-06:00", "2026-11-24 06:00:00", False),
        ("22:00-06:00", "2026-11-24 12:00:00", False),
        ("06:00-24:00", "2026-11-23 23:59:59", True),
        ("06:00-24:00", "2026-11-24 00:00:00", False),
        ("00:00-24:00", "2026-11-24 03:00:00", True),
    ],
)
def test_is_active_in_local_time(hours, when, active):
    assert ActiveHours.parse(hours, OSLO).is_active(at(when)) is active


def test_same_wall_hours_are_different_instants_in_another_zone():
    hours = ActiveHours.parse("06:00-22:00", ZoneInfo("America/New_York"))
    assert hours.is_active(at("2026-11-23 07:00:00")) is False  # 01:00 in New York
    assert hours.is_active(at("2026-11-23 07:00:00", ZoneInfo("America/New_York"))) is True


def test_active_seconds_skip_the_closed_night():
    hours = ActiveHours.parse("06:00-22:00", OSLO)
    assert hours.active_seconds(at("2026-11-23 21:30:00"), at("2026-11-24 06:30:00")) == HOUR


def test_active_seconds_across_a_wrapping_night_span():
    hours = ActiveHours.parse("22:00-06:00", OSLO)
    # 21:00 Monday .. 07:00 Tuesday holds the whole 8 h span; then until 23:00 Tuesday one more hour.
    assert hours.active_seconds(at("2026-11-23 21:00:00"), at("2026-11-24 07:00:00")) == 8 * HOUR
    assert hours.active_seconds(at("2026-11-23 21:00:00"), at("2026-11-24 23:00:00")) == 9 * HOUR


def test_active_seconds_are_zero_for_a_reversed_range():
    assert (
        ActiveHours.parse("06:00-22:00", OSLO).active_seconds(at("2026-11-24 10:00"), at("2026-11-24 09:00"))
        == 0
    )


def test_after_active_carries_the_rest_of_the_interval_into_the_next_opening():
    hours = ActiveHours.parse("06:00-22:00", OSLO)
    assert hours.after_active(at("2026-11-23 21:30:00"), HOUR) == at("2026-11-24 06:30:00")
    assert hours.after_active(at("2026-11-23 03:00:00"), HOUR) == at("2026-11-23 07:00:00")
    assert hours.after_active(at("2026-11-23 10:00:00"), HOUR) == at("2026-11-23 11:00:00")


def test_after_active_across_midnight_inside_a_wrapping_span():
    hours = ActiveHours.parse("22:00-06:00", OSLO)
    assert hours.after_active(at("2026-11-23 23:30:00"), HOUR) == at("2026-11-24 00:30:00")
    assert hours.after_active(at("2026-11-24 05:30:00"), HOUR) == at("2026-11-24 22:30:00")


def test_dst_spring_forward_night_is_an_hour_shorter():
    hours = ActiveHours.parse("00:00-06:00", OSLO)  # clocks jump 02:00 -> 03:00 on 2026-03-29
    assert hours.active_seconds(at("2026-03-29 00:00:00"), at("2026-03-29 12:00:00")) == 5 * HOUR
    assert hours.active_seconds(at("2026-03-22 00:00:00"), at("2026-03-22 12:00:00")) == 6 * HOUR


def test_all_day_counts_wall_seconds_even_on_dst_days():
    hours = ActiveHours.parse("00:00-24:00", OSLO)
    assert hours.all_day
    assert hours.active_seconds(at("2026-10-25 00:00:00"), at("2026-10-26 00:00:00")) == 25 * HOUR
    assert hours.after_active(100.0, 60.0) == 160.0
