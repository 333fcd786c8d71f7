"""Staff and customers of a simulated station: pure, seeded, day by day.

``plan_day(profile, config, day_start, seed)`` returns what happens at a station in one UTC day: button
presses (cleaner check-ins, kiosk ratings with reasons, a child hammering a kiosk, a jammed button) as
:class:`Press` on the station's real pins, and vehicle visits as :class:`VisitPlan`. Nothing here
touches a pin or a clock; :mod:`forecourt.demo.driver` turns presses into bouncy pin edges.

The patterns are the ones the dashboard must make visible: rush hours in the morning and the
evening, fewer cars at the weekend, restroom ratings that fall the longer the restroom goes uncleaned,
a cleaner who skips the early afternoon at one station, a kiosk that children hammer at another.
"""

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass

from edge.config import KioskConfig, RestroomConfig, StationConfig
from forecourt.protocol.fleet import parse_active_hours

DAY_S = 86400.0


@dataclass(frozen=True)
class Profile:
    """How a simulated station behaves; everything else is chance, seeded."""

    station: str
    name: str
    region: str
    quality: float = 0.8  # 0..1: customer happiness and how fast staff greet
    peak_vehicles_per_hour: float = 30.0
    cleaner_skips: bool = False  # the cleaner skips the early afternoon on most days
    kiosk_hammered: bool = False  # children hammer the shop kiosk (presses inside the response interval)
    camera: bool = False  # live visits come from the real camera pipeline, not from the simulator


@dataclass(frozen=True)
class Press:
    at: float  # epoch seconds of first contact
    pin: int
    hold_s: float
    why: str  # "check-in ladies", "rating shop-counter 3", ... for logs and tests


@dataclass(frozen=True)
class VisitPlan:
    bay: str
    arrived_at: float
    stopped_at: float
    greeted_at: float | None
    departed_at: float


@dataclass(frozen=True)
class DayPlan:
    presses: tuple[Press, ...]
    visits: tuple[VisitPlan, ...]


def traffic_shape(hour: float, weekend: bool = False) -> float:
    """Relative traffic (peak ~1) at a fractional hour of the day: morning and evening rush, a lunch bump."""

    def bump(centre: float, width: float) -> float:
        return math.exp(-0.5 * ((hour - centre) / width) ** 2)

    night = 0.05
    if weekend:
        return night + 0.45 * bump(11.5, 2.5) + 0.55 * bump(16.0, 2.5)
    return night + 0.95 * bump(8.0, 1.1) + 0.5 * bump(12.5, 1.4) + 0.9 * bump(17.0, 1.4) + 0.15 * bump(20.0, 2.0)


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: means here are below ~5, where it is exact and fast."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def arrivals(rng: random.Random, day_start: float, per_hour_at_peak: float, weekend: bool) -> list[float]:
    """Times of a non-homogeneous Poisson process following :func:`traffic_shape`, minute by minute."""
    times = []
    for minute in range(24 * 60):
        mean = per_hour_at_peak * traffic_shape(minute / 60, weekend) / 60
        times += [day_start + minute * 60 + rng.uniform(0, 60) for _ in range(poisson(rng, mean))]
    return sorted(times)


def draw_score(rng: random.Random, scale: int, mood: float) -> int:
    """A score 1..scale from a customer whose satisfaction centres on ``mood`` (0..1)."""
    satisfaction = min(0.999, max(0.0, rng.gauss(mood, 0.2)))
    return 1 + int(satisfaction * scale)


def restroom_mood(quality: float, minutes_since_cleaning: float | None) -> float:
    """Restroom customers are as happy as the station, less so the longer since the last cleaning."""
    base = 0.4 + 0.55 * quality
    if minutes_since_cleaning is None:
        return base - 0.3
    return base - 0.35 * min(1.0, max(0.0, (minutes_since_cleaning - 60) / 120))


def cleaning_times(
    rng: random.Random, profile: Profile, room: RestroomConfig, day_start: float, skip_today: bool
) -> list[float]:
    """Check-in times of one restroom in one day, inside its active hours."""
    start_min, end_min = parse_active_hours(room.active_hours)
    if end_min <= start_min:  # wrapping hours: the demo keeps to the part before midnight
        end_min = 24 * 60
    times: list[float] = []
    t = start_min + rng.uniform(0, 10)
    while t < end_min:
        times.append(day_start + t * 60)
        late = rng.random() < 0.25 * (1 - profile.quality)
        t += room.interval_min * (rng.uniform(1.05, 1.6) if late else rng.uniform(0.7, 0.97))
        if skip_today and 13 * 60 <= t < 15 * 60:
            t = 15 * 60 + rng.uniform(20, 60)  # the cleaner's long lunch: a gap of about three hours
    if times and day_start + (end_min - room.interval_min * 0.8) * 60 > times[-1]:
        times.append(day_start + (end_min - rng.uniform(2, 10)) * 60)  # the closing round before the lights go out
    return times


def checkin_presses(rng: random.Random, room: RestroomConfig, times: Iterable[float]) -> list[Press]:
    presses = []
    for at in times:
        presses.append(Press(at, room.button_pin, rng.uniform(0.2, 0.6), f"check-in {room.id}"))
        if rng.random() < 0.03:  # pressed twice "to be sure": the sensors must flag the second
            presses.append(Press(at + rng.uniform(20, 120), room.button_pin, 0.3, f"check-in {room.id} again"))
    return presses


def rating_presses(rng: random.Random, kiosk: KioskConfig, at: float, mood: float) -> list[Press]:
    score = draw_score(rng, kiosk.scale, mood)
    presses = [Press(at, kiosk.buttons[score - 1], rng.uniform(0.1, 0.35), f"rating {kiosk.id} {score}")]
    if kiosk.reasons and score <= kiosk.low_scores and rng.random() < 0.5:
        reason = kiosk.reasons[0] if rng.random() < 0.6 else rng.choice(kiosk.reasons)
        presses.append(Press(at + rng.uniform(1.0, kiosk.reason_window_s * 0.8), reason.pin, 0.2, f"reason {kiosk.id} {reason.reason}"))
    return presses


def hammering(rng: random.Random, kiosk: KioskConfig, at: float) -> list[Press]:
    """A child at the kiosk: 8-20 presses, a few per second, mostly on one button."""
    button = rng.randrange(kiosk.scale)
    presses, t = [], at
    for _ in range(rng.randint(8, 20)):
        if rng.random() < 0.2:
            button = rng.randrange(kiosk.scale)
        presses.append(Press(t, kiosk.buttons[button], rng.uniform(0.06, 0.12), f"hammer {kiosk.id}"))
        t += rng.uniform(0.18, 0.4)
    return presses


def visit_plans(rng: random.Random, profile: Profile, bays: list[str], cars: list[float]) -> list[VisitPlan]:
    """One visit per car that finds a free bay (the others drive on); greeting and dwell by quality."""
    free_at = {bay: 0.0 for bay in bays}
    greet_median = 12 + (1 - profile.quality) * 70
    visits = []
    for arrived in cars:
        bay = min((b for b in bays if free_at[b] <= arrived), key=lambda b: free_at[b], default=None)
        if bay is None:
            continue
        stopped = arrived + rng.uniform(4, 15)
        greeted = None
        if rng.random() < 0.55 + 0.4 * profile.quality:
            greeted = stopped + min(600.0, rng.lognormvariate(math.log(greet_median), 0.5))
        departed = max(stopped + rng.lognormvariate(math.log(200), 0.35), (greeted or stopped) + 60)
        free_at[bay] = departed + 5
        visits.append(VisitPlan(bay, arrived, stopped, greeted, departed))
    return visits


def plan_day(profile: Profile, config: StationConfig, day_start: float, seed: int | str = 0) -> DayPlan:
    """Everything that happens at ``profile``'s station between ``day_start`` and one day later."""
    day = int(day_start // DAY_S)
    rng = random.Random(f"{seed}:{profile.station}:{day}")
    weekend = (day + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    cars = arrivals(rng, day_start, profile.peak_vehicles_per_hour * (0.8 if weekend else 1.0), weekend)
    skip_today = profile.cleaner_skips and rng.random() < 0.8
    presses: list[Press] = []
    cleanings: list[float] = []
    for room in config.restrooms:
        times = cleaning_times(rng, profile, room, day_start, skip_today)
        cleanings += times
        presses += checkin_presses(rng, room, times)
    cleanings.sort()
    shop_mood = 0.3 + 0.65 * profile.quality
    for kiosk in config.kiosks:
        share = 0.3 if kiosk.location == "restroom" else 0.45  # of customers who press a smiley
        for at in arrivals(rng, day_start, profile.peak_vehicles_per_hour * share, weekend):
            if kiosk.location == "restroom":
                last = next((c for c in reversed(cleanings) if c <= at), None)
                mood = restroom_mood(profile.quality, None if last is None else (at - last) / 60)
            else:
                mood = shop_mood
            presses += rating_presses(rng, kiosk, at, mood)
    if profile.kiosk_hammered and config.kiosks:
        kiosk = next((k for k in config.kiosks if k.location != "restroom"), config.kiosks[0])
        for _ in range(rng.randint(3, 8)):
            presses += hammering(rng, kiosk, day_start + rng.uniform(10, 20) * 3600)
        if day % 7 == 3:  # once a week a button jams for half a minute: a stuck-button alert
            presses.append(Press(day_start + rng.uniform(9, 18) * 3600, kiosk.buttons[-1], 35.0, f"jammed {kiosk.id}"))
    bays = [zone.id for zone in config.zones if zone.kind == "pump_bay"] or ["bay-1", "bay-2"]
    # A camera station's history is simulated too; live, its visits come from the real pipeline (driver.go_live).
    return DayPlan(tuple(serialize(presses)), tuple(visit_plans(rng, profile, bays, cars)))


def serialize(presses: Iterable[Press], gap_s: float = 0.25) -> list[Press]:
    """Time order, and no press on a pin before that pin's previous press is released (one finger at a time)."""
    free_at: dict[int, float] = {}
    out = []
    for press in sorted(presses, key=lambda p: (p.at, p.pin)):
        at = max(press.at, free_at.get(press.pin, -math.inf))
        out.append(Press(at, press.pin, press.hold_s, press.why) if at != press.at else press)
        free_at[press.pin] = at + press.hold_s + gap_s
    return sorted(out, key=lambda p: (p.at, p.pin))


def plan(profile: Profile, config: StationConfig, start: float, end: float, seed: int | str = 0) -> DayPlan:
    """Presses and visits in [start, end): the days it spans, cut to the window."""
    presses: list[Press] = []
    visits: list[VisitPlan] = []
    day_start = start - start % DAY_S
    while day_start < end:
        day = plan_day(profile, config, day_start, seed)
        presses += [p for p in day.presses if start <= p.at < end]
        visits += [v for v in day.visits if start <= v.departed_at < end]
        day_start += DAY_S
    presses.sort(key=lambda p: (p.at, p.pin))
    visits.sort(key=lambda v: v.departed_at)
    return DayPlan(tuple(presses), tuple(visits))
