"""Following up every bad rating, as the practice has it: every bad review is followed up within 24 hours,
rectified within 3 working days and tracked until closed. Pure: plain values and times in, no database
(cloud/followup_records.py stores and reads the items).

An *item* gathers the bad ratings of one station and one station-local day, so a bad afternoon is one
item listing its ratings. Both of its deadlines run from its first bad rating:

- **follow-up**, met when someone acknowledges the item: ``follow_up_h`` (24) hours of elapsed time later,
  so a change to or from summer time neither lengthens nor shortens it;
- **rectification**, met when the item is closed with what was done: ``rectify_working_days`` (3)
  working days later at the same wall-clock time in the station's time zone, where a working day is
  neither the station's weekend nor a public holiday of its region.

A deadline that passes unmet is *overdue* and escalates the item once per stage: the follow-up to the
nearest manager above the station (the most specific region role that has a user, else HQ), the
rectification to the one above that. Ratings that come in late (replayed from a station's outbox) join
their day's item and may move its deadlines earlier, never later.
"""

import functools
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Literal

from cloud.registry import ancestors, zone

WEEKEND = frozenset({5, 6})  # Saturday, Sunday (datetime.weekday numbers)
STAGES = ("follow_up", "rectify")
Stage = Literal["follow_up", "rectify"]
StageStatus = Literal["pending", "met", "late", "overdue"]


@dataclass(frozen=True)
class Calendar:
    """Where a station's working days are counted: its time zone, its public holidays, its weekend."""

    tz: tzinfo
    holidays: Container[date] = frozenset()
    weekend: frozenset[int] = WEEKEND


@dataclass(frozen=True)
class BadRating:
    event_id: str
    station: str
    ts: datetime
    score: int
    scale: int
    kiosk: str
    reason: str | None = None
    flag: str | None = None  # why the station thinks it doubtful (e.g. simultaneous presses)


@dataclass(frozen=True)
class Deadlines:
    follow_up: datetime
    rectify: datetime


def is_bad(score: int, scale: int, bad_at_most: Mapping[int, int]) -> bool:
    """Whether a rating is bad: at or below its scale's limit (e.g. 2 of 5, 1 of 3)."""
    return score <= bad_at_most.get(scale, 0)


def local_day(when: datetime, tz: tzinfo) -> date:
    """The calendar day at the station when ``when`` happened (23:30 UTC is the next day in Oslo)."""
    return when.astimezone(tz).date()


def is_working_day(day: date, calendar: Calendar) -> bool:
    return day.weekday() not in calendar.weekend and day not in calendar.holidays


def due_after_working_days(opened_at: datetime, days: int, calendar: Calendar) -> datetime:
    """``opened_at`` plus ``days`` working days at the same local wall-clock time, in UTC.

    Counted in the station's zone, so a rating at 23:30 UTC on a Friday in Oslo (Saturday there) counts
    from Saturday. A wall-clock time the due day lacks (02:30 as summer time begins) is read with the
    offset before the change, as ``zoneinfo`` does, so it lands an hour later on the clock (03:30).
    """
    local = opened_at.astimezone(calendar.tz)
    day, left = local.date(), days
    while left > 0:
        day += timedelta(days=1)
        left -= is_working_day(day, calendar)
    wall = datetime.combine(day, local.time().replace(tzinfo=None, fold=0), tzinfo=calendar.tz)
    return wall.astimezone(UTC)


def deadlines(first_rating: datetime, calendar: Calendar, *, follow_up_h: float, rectify_days: int) -> Deadlines:
    return Deadlines(
        follow_up=(first_rating + timedelta(hours=follow_up_h)).astimezone(UTC),
        rectify=due_after_working_days(first_rating, rectify_days, calendar),
    )


def stage_status(due: datetime, met_at: datetime | None, now: datetime) -> StageStatus:
    """``met`` in time, ``late`` (met after its deadline), ``overdue`` (unmet, deadline passed) or ``pending``."""
    if met_at is not None:
        return "met" if met_at <= due else "late"
    return "overdue" if now > due else "pending"


def group_by_station_day(
    ratings: Iterable[BadRating], tz_of: Callable[[str], tzinfo]
) -> dict[tuple[str, date], list[BadRating]]:
    """Bad ratings per (station, station-local day), each group in time order."""
    groups: dict[tuple[str, date], list[BadRating]] = defaultdict(list)
    for rating in ratings:
        groups[(rating.station, local_day(rating.ts, tz_of(rating.station)))].append(rating)
    return {key: sorted(group, key=lambda r: (r.ts, r.event_id)) for key, group in groups.items()}


def escalation_chain(region: str, roles_with_users: Iterable[str]) -> tuple[str, ...]:
    """Who is told when deadlines pass, nearest first: each region above the station (most specific
    first) whose manager role has a user, then ``hq``. ``"west/bergen/sentrum"`` with users for
    ``region:west`` gives ``("region:west", "hq")``."""
    present = set(roles_with_users)
    return (*[f"region:{path}" for path in reversed(ancestors(region)) if f"region:{path}" in present], "hq")


def told_for(stage: Stage, chain: tuple[str, ...]) -> str:
    """The follow-up escalates to the nearest manager, the rectification to the next one up."""
    return chain[min(STAGES.index(stage), len(chain) - 1)]


def calendar_code(region: str, by_region: Mapping[str, str]) -> str:
    """The holiday calendar of the longest region path in ``by_region`` that contains ``region``
    (``""`` is the whole chain); ``""`` when none does (no public holidays)."""
    for path in [*reversed(ancestors(region)), ""]:
        if path in by_region:
            return by_region[path]
    return ""


@functools.lru_cache(maxsize=64)
def holiday_calendar(code: str) -> tuple[Container[date], frozenset[int]]:
    """The public holidays and weekend of a calendar code: a country, optionally with a subdivision
    (``NO``, ``GB-ENG``, ``DE-BY``), as the ``holidays`` package names them. ``""`` has no holidays.

    The package's objects fill in each year on first use, so one object serves every year.
    """
    if not code:
        return frozenset(), WEEKEND
    import holidays  # only where calendars are needed: the package loads every country's rules

    country, _, subdivision = code.partition("-")
    try:
        calendar = holidays.country_holidays(country, subdiv=subdivision or None)
    except NotImplementedError:
        raise ValueError(f"{code!r} is not a holiday calendar: use a country code such as NO, GB-ENG or DE-BY") from None
    return calendar, frozenset(getattr(calendar, "weekend", WEEKEND))


def station_calendar(tz_name: str, code: str) -> Calendar:
    holidays, weekend = holiday_calendar(code)
    return Calendar(zone(tz_name), holidays, weekend)
