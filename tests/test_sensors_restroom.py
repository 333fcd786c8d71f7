"""Restroom check-ins: interval edges, active hours incl. midnight, plausibility flags, alerts."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from edge.config import RestroomConfig
from edge.events import Draft
from edge.sensors.hours import ActiveHours
from edge.sensors.restroom import RestroomTimer
from tests.drafting import draft

OSLO = ZoneInfo("Europe/Oslo")
MIN = 60.0


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=OSLO).timestamp()


def timer(started: str, **overrides) -> RestroomTimer:
    config = RestroomConfig(**{"id": "ladies", "name": "Ladies", "button_pin": 5} | overrides)
    return RestroomTimer(config, ActiveHours.parse(config.active_hours, OSLO), started_at=at(started))


def cleaning(when: float, flag: str | None = None, since: float | None = None, active: float | None = None) -> Draft:
    """``active`` (seconds of open hours since the last counted check-in) is ``since`` unless given."""
    return draft("cleaning", when, {"restroom": "ladies", "flag": flag, "since_last_s": since,
                                    "active_since_last_s": since if active is None else active})


def overdue(state: str, when: float, value: float, message: str) -> Draft:
    fields = {
        "alert": "restroom_overdue",
        "state": state,
        "subject": "ladies",
        "message": message,
        "value": value,
    }
    return draft("alert", when, fields)


OPEN_MSG = "Ladies: no cleaning check-in for 60 min of active hours since the last one"


def test_first_check_in_has_no_previous_and_restarts_the_interval():
    room = timer("2026-11-23 10:00")
    assert room.check_in(at("2026-11-23 10:20")) == [cleaning(at("2026-11-23 10:20"))]
    assert room.due_at == at("2026-11-23 11:20")


def test_overdue_opens_exactly_at_the_interval_and_is_dated_then():
    room = timer("2026-11-23 10:00")
    room.check_in(at("2026-11-23 10:00"))
    assert room.tick(at("2026-11-23 11:00") - 0.001) == []
    assert room.tick(at("2026-11-23 11:00") + 5) == [overdue("open", at("2026-11-23 11:00"), 5.0, OPEN_MSG)]
    assert room.tick(at("2026-11-23 11:30")) == []  # one alert per episode
    assert room.status(at("2026-11-23 11:30")).overdue_s == 30 * MIN


def test_check_in_clears_the_alert_with_the_minutes_overdue():
    room = timer("2026-11-23 10:00")
    room.check_in(at("2026-11-23 10:00"))
    room.tick(at("2026-11-23 11:00"))
    assert room.check_in(at("2026-11-23 11:25")) == [
        cleaning(at("2026-11-23 11:25"), since=85 * MIN),
        overdue("cleared", at("2026-11-23 11:25"), 25 * MIN, "Ladies checked in 25 min overdue"),
    ]
    assert room.status(at("2026-11-23 11:30")).overdue is False


def test_check_in_without_a_tick_in_between_still_reports_the_overdue_episode_in_order():
    room = timer("2026-11-23 10:00")
    room.check_in(at("2026-11-23 10:00"))
    drafts = room.check_in(at("2026-11-23 12:00"))
    assert [(d.kind, d.fields.get("state"), d.at) for d in drafts] == [
        ("alert", "open", at("2026-11-23 11:00")),
        ("cleaning", None, at("2026-11-23 12:00")),
        ("alert", "cleared", at("2026-11-23 12:00")),
    ]


def test_without_any_check_in_the_interval_runs_from_start_up():
    room = timer("2026-11-23 10:00", interval_min=30)
    message = "Ladies: no cleaning check-in for 30 min of active hours since start-up"
    assert room.tick(at("2026-11-23 10:30")) == [overdue("open", at("2026-11-23 10:30"), 0.0, message)]


def test_interval_pauses_outside_active_hours():
    room = timer("2026-11-23 21:00", active_hours="06:00-22:00")
    room.check_in(at("2026-11-23 21:30"))
    assert room.tick(at("2026-11-24 06:29")) == []
    assert room.tick(at("2026-11-24 06:30"))[0].at == at("2026-11-24 06:30")


def test_interval_runs_across_midnight_in_a_night_shift():
    room = timer("2026-11-23 21:00", active_hours="22:00-06:00", interval_min=120)
    room.check_in(at("2026-11-23 23:15"))
    assert room.due_at == at("2026-11-24 01:15")
    room.check_in(at("2026-11-24 05:30"))  # 30 min left tonight, 90 min carried to tomorrow night
    assert room.due_at == at("2026-11-24 23:30")


def test_overdue_alert_pauses_over_closing_time_and_counts_only_active_minutes():
    room = timer("2026-11-23 20:00", active_hours="06:00-22:00")
    room.check_in(at("2026-11-23 20:30"))
    assert room.tick(at("2026-11-23 21:45")) == [overdue("open", at("2026-11-23 21:30"), 15 * MIN, OPEN_MSG)]
    closed = "Ladies closed for the day 30 min overdue; the alert resumes at opening"
    assert room.tick(at("2026-11-23 22:00") + 1) == [overdue("cleared", at("2026-11-23 22:00"), 30 * MIN, closed)]
    assert room.tick(at("2026-11-24 05:59")) == []
    assert room.tick(at("2026-11-24 06:00") + 2) == [overdue("open", at("2026-11-24 06:00"), 30 * MIN + 2, OPEN_MSG)]
    assert room.status(at("2026-11-24 06:10")).overdue_s == 40 * MIN  # 21:30-22:00 + 06:00-06:10
    assert room.check_in(at("2026-11-24 06:10"))[-1] == overdue(
        "cleared", at("2026-11-24 06:10"), 40 * MIN, "Ladies checked in 40 min overdue")


def test_a_check_in_after_a_night_without_ticks_reports_both_episodes_in_order():
    room = timer("2026-11-23 20:00", active_hours="06:00-22:00")
    room.check_in(at("2026-11-23 20:30"))
    drafts = room.check_in(at("2026-11-24 06:10"))
    assert [(d.kind, d.fields.get("state"), d.at) for d in drafts] == [
        ("alert", "open", at("2026-11-23 21:30")),
        ("alert", "cleared", at("2026-11-23 22:00")),
        ("alert", "open", at("2026-11-24 06:00")),
        ("cleaning", None, at("2026-11-24 06:10")),
        ("alert", "cleared", at("2026-11-24 06:10")),
    ]


def test_an_all_day_restroom_is_never_paused():
    room = timer("2026-11-23 20:00")
    room.check_in(at("2026-11-23 20:30"))
    assert [d.fields["state"] for d in room.tick(at("2026-11-23 21:45"))] == ["open"]
    assert room.tick(at("2026-11-24 06:00")) == []


def test_second_press_within_the_gap_is_kept_flagged_and_does_not_reset_the_clock():
    room = timer("2026-11-23 10:00", catch_up_min=0)
    room.check_in(at("2026-11-23 10:00"))
    assert room.check_in(at("2026-11-23 10:04")) == [cleaning(at("2026-11-23 10:04"), "too_soon", 4 * MIN)]
    assert room.due_at == at("2026-11-23 11:00")
    assert room.check_in(at("2026-11-23 10:05")) == [cleaning(at("2026-11-23 10:05"), since=5 * MIN)]
    assert (room.check_ins, room.flagged) == (3, 1)


def test_a_run_of_check_ins_after_a_cleaning_is_a_catch_up_however_long_it_runs():
    room = timer("2026-11-23 14:00", interval_min=60)  # catch_up_min: half the interval
    room.check_in(at("2026-11-23 14:00"))
    times = [at("2026-11-23 14:06"), at("2026-11-23 14:12"), at("2026-11-23 14:18"), at("2026-11-23 14:24")]
    assert [room.check_in(t) for t in times] == [
        [cleaning(t, "catch_up", t - at("2026-11-23 14:00"))] for t in times
    ]
    assert room.due_at == at("2026-11-23 15:00")  # none of them reset the clock
    assert room.check_in(at("2026-11-23 14:30")) == [cleaning(at("2026-11-23 14:30"), since=30 * MIN)]


@pytest.mark.parametrize(("catch_up_min", "flag"), [(None, "catch_up"), (20, None), (0, None)])
def test_catch_up_min_is_configurable_and_zero_turns_it_off(catch_up_min, flag):
    room = timer("2026-11-23 14:00", interval_min=60, catch_up_min=catch_up_min)
    room.check_in(at("2026-11-23 14:00"))
    assert room.check_in(at("2026-11-23 14:25"))[-1].fields["flag"] == flag


def test_a_catch_up_window_as_long_as_the_interval_is_refused():
    with pytest.raises(ValidationError, match="catch_up_min: 60 would flag every cleaning on time"):
        RestroomConfig(id="ladies", button_pin=5, interval_min=60, catch_up_min=60)


def test_burst_of_presses_is_flagged_as_a_burst_from_the_third_press():
    room = timer("2026-11-23 10:00", min_gap_min=0, catch_up_min=0)
    times = [at("2026-11-23 10:00") + s for s in (0, 1, 2, 3, 70)]
    flags = [room.check_in(t)[-1].fields["flag"] for t in times]
    assert flags == [None, None, "burst", "burst", None]


def test_burst_flag_wins_over_too_soon_and_too_soon_over_catch_up():
    room = timer("2026-11-23 10:00")
    flags = [room.check_in(at("2026-11-23 10:00") + s)[-1].fields["flag"] for s in (0, 1, 2, 400)]
    assert flags == [None, "too_soon", "burst", "catch_up"]


def test_flagged_check_in_does_not_clear_an_open_alert():
    room = timer("2026-11-23 10:00", burst_count=2, burst_window_s=120, interval_min=1, min_gap_min=0)
    room.check_in(at("2026-11-23 10:00"))
    room.tick(at("2026-11-23 10:01"))
    flagged = room.check_in(at("2026-11-23 10:01") + 10)
    assert [d.kind for d in flagged] == ["cleaning"]
    assert room.alert_open


def test_clock_stepped_back_never_gives_a_negative_duration():
    room = timer("2026-11-23 10:00", min_gap_min=0)
    room.check_in(at("2026-11-23 10:00"))
    assert room.check_in(at("2026-11-23 09:00"))[-1].fields["since_last_s"] == 0.0


def test_restart_with_a_known_last_check_in_resumes_its_clock():
    config = RestroomConfig(id="ladies", button_pin=5)
    hours = ActiveHours.parse(config.active_hours, OSLO)
    room = RestroomTimer(
        config, hours, started_at=at("2026-11-23 10:30"), last_check_in=at("2026-11-23 10:00")
    )
    assert room.due_at == at("2026-11-23 11:00")
    assert room.check_in(at("2026-11-23 10:40"))[0].fields["since_last_s"] == 40 * MIN


def test_press_confirmed_just_after_the_alert_opened_clears_it_without_going_back_in_time():
    room = timer("2026-11-23 10:00")
    room.check_in(at("2026-11-23 10:00"))
    room.tick(at("2026-11-23 11:00"))  # the press below was still settling in the debouncer
    cleared = room.check_in(at("2026-11-23 11:00") - 0.01)[-1]
    assert (cleared.at, cleared.fields["value"]) == (at("2026-11-23 11:00"), 0.0)


def test_long_overdue_reads_in_hours():
    room = timer("2026-11-23 10:00")
    room.check_in(at("2026-11-23 10:00"))
    room.tick(at("2026-11-23 11:00"))
    assert (
        room.check_in(at("2026-11-23 14:05"))[-1].fields["message"] == "Ladies checked in 3 h 5 min overdue"
    )


def test_interval_is_bounded_so_the_due_time_search_always_ends():
    with pytest.raises(ValidationError, match="interval_min"):
        RestroomConfig(id="ladies", button_pin=5, interval_min=7 * 24 * 60 + 1)


def test_the_gap_between_cleanings_is_also_given_in_open_hours():
    """Last clean 21:50, the restroom closes at 22:00 and opens at 06:00, next clean 06:10: 8 h 20 min on the
    clock, 20 minutes of open hours (what a cleaning schedule is judged by)."""
    room = timer("2026-11-23 21:00", active_hours="06:00-22:00")
    room.check_in(at("2026-11-23 21:50"))
    cleaned = [d for d in room.check_in(at("2026-11-24 06:10")) if d.kind == "cleaning"]
    assert cleaned == [cleaning(at("2026-11-24 06:10"), since=8 * 60 * MIN + 20 * MIN, active=20 * MIN)]


def retuned(room: RestroomTimer, now: float, **overrides) -> list[Draft]:
    """HQ's new rules for ``room`` from ``now`` on (as Sensors.retune applies them)."""
    config = room.config.model_copy(update=overrides)
    return room.retune(config, ActiveHours.parse(config.active_hours, OSLO), now)


def test_new_rules_keep_the_last_check_in_and_the_next_alert_comes_at_the_new_interval():
    room = timer("2026-11-23 09:00")
    room.check_in(at("2026-11-23 10:00"))
    assert retuned(room, at("2026-11-23 10:05"), interval_min=15) == []
    assert (room.last_check_in, room.due_at) == (at("2026-11-23 10:00"), at("2026-11-23 10:15"))
    message = "Ladies: no cleaning check-in for 15 min of active hours since the last one"
    assert room.tick(at("2026-11-23 10:15") + 1) == [overdue("open", at("2026-11-23 10:15"), 1.0, message)]
    room.check_in(at("2026-11-23 10:20"))
    assert room.due_at == at("2026-11-23 10:35")


def test_a_restroom_the_change_makes_overdue_is_overdue_from_the_change_not_before():
    room = timer("2026-11-23 09:00")
    room.check_in(at("2026-11-23 10:00"))
    message = "Ladies: no cleaning check-in for 15 min of active hours since the last one"
    assert retuned(room, at("2026-11-23 10:40"), interval_min=15) == [
        overdue("open", at("2026-11-23 10:40"), 0.0, message)  # not dated 10:15: that rule did not exist then
    ]


def test_a_restroom_the_change_makes_no_longer_overdue_has_its_alert_cleared():
    room = timer("2026-11-23 09:00")
    room.check_in(at("2026-11-23 10:00"))
    room.tick(at("2026-11-23 11:05"))  # open since 11:00
    cleared = "Ladies: cleaning rules changed (2 h 0 min of 00:00-24:00) after 20 min overdue"
    assert retuned(room, at("2026-11-23 11:20"), interval_min=120) == [
        overdue("cleared", at("2026-11-23 11:20"), 20 * MIN, cleared)
    ]
    assert room.tick(at("2026-11-23 12:00") + 1)[0].fields["state"] == "open"  # at the new interval


def test_new_active_hours_end_an_open_episode_and_it_resumes_by_them():
    room = timer("2026-11-23 09:00")
    room.check_in(at("2026-11-23 10:00"))
    room.tick(at("2026-11-23 11:05"))
    drafts = retuned(room, at("2026-11-23 11:30"), active_hours="06:00-11:15")  # closed from 11:15 now
    assert [(d.fields["state"], d.at, d.fields["value"]) for d in drafts] == [("cleared", at("2026-11-23 11:30"), 30 * MIN)]
    assert room.tick(at("2026-11-23 23:00")) == []
    assert [(d.fields["state"], d.at) for d in room.tick(at("2026-11-24 06:00") + 1)] == [("open", at("2026-11-24 06:00"))]
