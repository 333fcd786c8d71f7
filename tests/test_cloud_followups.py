"""The follow-up rules, table-tested as pure functions: which ratings are bad, station-local days, deadlines
in working days of the station's zone with its holidays (Christmas, New Year, summer time), escalation."""

from datetime import UTC, date, datetime

import pytest

from cloud.alerts import UTC_WEEKDAYS
from cloud.followups import (
    BadRating,
    Calendar,
    calendar_code,
    deadlines,
    due_after_working_days,
    escalation_chain,
    group_by_station_day,
    holiday_calendar,
    is_bad,
    local_day,
    stage_status,
    station_calendar,
    told_for,
)
from cloud.registry import zone

OSLO, LONDON, NEW_YORK = zone("Europe/Oslo"), zone("Europe/London"), zone("America/New_York")
CHRISTMAS_24_26 = Calendar(OSLO, frozenset({date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 26)}))
DEFAULT_LIMITS = {3: 1, 4: 2, 5: 2}


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@pytest.mark.parametrize(("score", "scale", "bad"), [
    (1, 5, True), (2, 5, True), (3, 5, False), (5, 5, False),
    (1, 4, True), (2, 4, True), (3, 4, False),
    (1, 3, True), (2, 3, False), (3, 3, False),
])
def test_the_lower_half_of_each_scale_is_bad_by_default(score, scale, bad):
    assert is_bad(score, scale, DEFAULT_LIMITS) is bad


def test_limits_are_per_scale_and_zero_means_none_are_bad():
    assert is_bad(3, 5, {5: 3}) and not is_bad(1, 3, {3: 0, 5: 3}) and not is_bad(1, 4, {})


@pytest.mark.parametrize(("when", "tz", "day"), [
    ("2026-11-06T23:30Z", OSLO, date(2026, 11, 7)),  # already Saturday in Oslo
    ("2026-11-06T23:30Z", LONDON, date(2026, 11, 6)),
    ("2026-11-07T03:00Z", NEW_YORK, date(2026, 11, 6)),  # still Friday evening in New York
])
def test_the_day_is_the_stations(when, tz, day):
    assert local_day(z(when), tz) == day


@pytest.mark.parametrize(("opened", "calendar", "due", "case"), [
    # The cases: the weekend-only UTC rule gives 28 Dec and 4 Jan.
    ("2026-12-23T09:00Z", CHRISTMAS_24_26, "2026-12-30T09:00Z", "23 Dec, 24-26 Dec holidays: 28, 29, 30"),
    ("2026-12-23T09:00Z", station_calendar("Europe/Helsinki", "FI"), "2026-12-30T09:00Z", "FI: 24-26 Dec"),
    ("2026-12-23T09:00Z", station_calendar("Europe/London", "GB-ENG"), "2026-12-30T09:00Z",
     "England: 24 Dec works, 25 Dec and the 28 Dec substitute for Boxing Day do not"),
    ("2026-12-23T09:00Z", station_calendar("Europe/Oslo", "NO"), "2026-12-29T09:00Z", "Norway: 24 Dec works"),
    ("2026-12-30T09:00Z", station_calendar("Europe/Oslo", "NO"), "2027-01-05T09:00Z", "30 Dec, 1 Jan a holiday: 31, 4, 5"),
    ("2026-12-26T12:00Z", station_calendar("Europe/Oslo", "NO"), "2026-12-30T12:00Z", "opened on a holiday Saturday"),
    ("2026-11-25T14:00Z", station_calendar("America/New_York", "US"), "2026-12-01T14:00Z",
     "Thanksgiving (Thu 26 Nov) skipped, the Friday after works"),
    # Summer time ends in Oslo on 25 Oct: 16:00 on the Friday is 14:00Z, 16:00 on the Wednesday is 15:00Z.
    ("2026-10-23T14:00Z", Calendar(OSLO), "2026-10-28T15:00Z", "same wall-clock time across the DST change"),
    # Summer time begins in New York on 8 Mar 2026: 09:00 EST is 14:00Z, 09:00 EDT 13:00Z.
    ("2026-03-06T14:00Z", Calendar(NEW_YORK), "2026-03-11T13:00Z", "same wall-clock time as summer time begins"),
    # 23:30Z on Friday is Saturday 00:30 in Oslo: counting starts on Saturday, so Mon, Tue, Wed 00:30.
    ("2026-11-06T23:30Z", Calendar(OSLO), "2026-11-10T23:30Z", "counted from the station's day"),
    # A Friday/Saturday weekend: Sunday 29 Mar is a working day, and 02:30 does not exist on it in Oslo
    # (clocks go 02:00 -> 03:00): read with the winter offset, it is 03:30 summer time = 01:30Z.
    ("2026-03-27T01:30Z", Calendar(OSLO, weekend=frozenset({4, 5})), "2026-03-31T00:30Z",
     "Fri/Sat weekend: Sun, Mon, Tue"),
])
def test_due_after_working_days(opened, calendar, due, case):
    assert due_after_working_days(z(opened), 3, calendar) == z(due), case


def test_a_wall_clock_time_the_due_day_lacks_lands_an_hour_later():
    # Saturday 28 Mar 02:30 CET; one working day later (Sunday, weekend Fri/Sat) at 02:30 does not exist.
    opened = z("2026-03-28T01:30Z")
    assert due_after_working_days(opened, 1, Calendar(OSLO, weekend=frozenset({4, 5}))) == z("2026-03-29T01:30Z")
    assert z("2026-03-29T01:30Z").astimezone(OSLO).strftime("%H:%M %Z") == "03:30 CEST"


def test_without_a_calendar_only_the_weekend_is_skipped_for_comparison():
    assert due_after_working_days(z("2026-12-23T09:00Z"), 3, UTC_WEEKDAYS) == z("2026-12-28T09:00Z")
    assert due_after_working_days(z("2026-12-30T09:00Z"), 3, UTC_WEEKDAYS) == z("2027-01-04T09:00Z")


@pytest.mark.parametrize(("first", "calendar", "follow_up", "rectify"), [
    ("2026-11-06T14:10Z", Calendar(LONDON), "2026-11-07T14:10Z", "2026-11-11T14:10Z"),
    # 24 hours of elapsed time: across the autumn change that is 11:00, not 12:00, on the Sunday in Oslo.
    ("2026-10-24T10:00Z", Calendar(OSLO), "2026-10-25T10:00Z", "2026-10-28T11:00Z"),
])
def test_deadlines_of_an_item(first, calendar, follow_up, rectify):
    due = deadlines(z(first), calendar, follow_up_h=24, rectify_days=3)
    assert (due.follow_up, due.rectify) == (z(follow_up), z(rectify))


@pytest.mark.parametrize(("met", "now", "status"), [
    (None, "2026-11-07T14:00Z", "pending"),
    (None, "2026-11-07T14:10Z", "pending"),  # the deadline itself is still in time
    (None, "2026-11-07T14:11Z", "overdue"),
    ("2026-11-07T09:00Z", "2026-11-09T00:00Z", "met"),
    ("2026-11-07T15:00Z", "2026-11-09T00:00Z", "late"),
])
def test_stage_status(met, now, status):
    assert stage_status(z("2026-11-07T14:10Z"), z(met) if met else None, z(now)) == status


def test_a_bad_afternoon_is_one_group_and_the_stations_midnight_splits_days():
    def bad(event_id, station, ts):
        return BadRating(event_id, station, z(ts), 1, 5, "k1")

    ratings = [bad("e3", "oslo", "2026-11-06T15:40Z"), bad("e1", "oslo", "2026-11-06T12:05Z"),
               bad("e2", "oslo", "2026-11-06T13:30Z"), bad("e4", "oslo", "2026-11-06T23:30Z"),
               bad("e5", "leeds", "2026-11-06T23:30Z")]
    zones = {"oslo": OSLO, "leeds": LONDON}
    groups = group_by_station_day(ratings, zones.__getitem__)
    assert {key: [r.event_id for r in group] for key, group in groups.items()} == {
        ("oslo", date(2026, 11, 6)): ["e1", "e2", "e3"],
        ("oslo", date(2026, 11, 7)): ["e4"],
        ("leeds", date(2026, 11, 6)): ["e5"],
    }


@pytest.mark.parametrize(("region", "roles", "chain"), [
    ("west/bergen/sentrum", {"region:west", "station:bergen-sentrum"}, ("region:west", "hq")),
    ("west/bergen/sentrum", {"region:west", "region:west/bergen"}, ("region:west/bergen", "region:west", "hq")),
    ("west/bergen/sentrum", {"region:western", "region:east"}, ("hq",)),  # whole segments only
    ("", {"region:west"}, ("hq",)),  # an unplaced station: HQ
])
def test_escalation_chain(region, roles, chain):
    assert escalation_chain(region, roles) == chain


def test_the_follow_up_goes_to_the_nearest_manager_the_rectification_one_up():
    chain = ("region:west/bergen", "region:west", "hq")
    assert (told_for("follow_up", chain), told_for("rectify", chain)) == ("region:west/bergen", "region:west")
    assert (told_for("follow_up", ("hq",)), told_for("rectify", ("hq",))) == ("hq", "hq")


@pytest.mark.parametrize(("region", "code"), [
    ("west/bergen/sentrum", "NO"), ("uk/wales/cardiff", "GB-WLS"), ("uk/leeds", "GB-ENG"), ("", "NO"),
])
def test_the_longest_region_path_names_the_holidays(region, code):
    assert calendar_code(region, {"": "NO", "uk": "GB-ENG", "uk/wales": "GB-WLS"}) == code
    assert calendar_code(region, {}) == ""


def test_holiday_calendars_come_from_the_holidays_package():
    england, weekend = holiday_calendar("GB-ENG")
    assert date(2026, 12, 28) in england and date(2026, 12, 24) not in england and weekend == {5, 6}
    assert date(2027, 1, 1) in holiday_calendar("NO")[0]  # the package fills in each year on first use
    assert holiday_calendar("") == (frozenset(), {5, 6})
    for code in ("XX", "GB-XX"):
        with pytest.raises(ValueError, match="not a holiday calendar"):
            holiday_calendar(code)
