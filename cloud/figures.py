"""Pure arithmetic of rollups: one station-hour's additive figures from its events, merging rows, and the
figures the API shows (Happy Index, compliance, percentiles...). No database here.

Happy Index, generalised from HappyOrNot's four buttons to 3/4/5-point scales: each rating weighs
``(score - 1) / (scale - 1)`` (0 for the unhappiest button, 1 for the happiest) and the index is the
mean weight x 100. A rating is *bad* when its weight is below 0.5 (the lower half of the scale:
1 of 3; 1-2 of 4; 1-2 of 5).

Ratings are also totalled per reason button, and restrooms per restroom id: counted and flagged check-ins,
seconds overdue within online time, and the longest gap between counted check-ins. A region's figures add
restrooms of the same id across its stations (``r1`` of each), which keeps compliance a share of time.
"""

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime

from cloud.config import GoalSettings
from cloud.store import ROLLUP_COUNTERS, ROLLUP_JSON, ROLLUP_KEYED_MAXES, ROLLUP_MAXES, ROLLUP_SUMS
from forecourt.protocol import Alert, Cleaning, Event, FilteredPresses, Rating, StationAlert, Visit

Interval = tuple[datetime, datetime]


def rating_weight(score: int, scale: int) -> float:
    return (score - 1) / (scale - 1)


def measure(intervals: Iterable[Interval]) -> float:
    """Seconds covered by the union of ``intervals``."""
    total, reach = 0.0, None
    for start, end in sorted(intervals):
        if reach is not None and start < reach:
            start = reach
        if end > start:
            total += (end - start).total_seconds()
            reach = end if reach is None else max(reach, end)
    return total


def clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    return [(max(a, start), min(b, end)) for a, b in intervals if min(b, end) > max(a, start)]


def intersect(left: list[Interval], right: list[Interval]) -> list[Interval]:
    return [piece for a, b in left for piece in clip(right, a, b)]


def timeline(changes: Iterable[tuple[datetime, bool]], until: datetime) -> list[Interval]:
    """Intervals in which a flag was on, from time-ordered (when, on) changes; an open one runs to ``until``."""
    out, since = [], None
    for when, on in changes:
        if on and since is None:
            since = when
        elif not on and since is not None:
            out.append((since, when))
            since = None
    if since is not None and until > since:
        out.append((since, until))
    return out


def empty_row() -> dict:
    return {**dict.fromkeys(ROLLUP_SUMS + ROLLUP_MAXES, 0), **{name: {} for name in ROLLUP_JSON}}


def hour_row(
    events: Iterable[Event], fps_samples: Iterable[float | None], *, online_s: float, overdue_s: float,
    goals: GoalSettings, overdue_by_restroom: Mapping[str, float] | None = None,
) -> dict:
    """Additive figures of one station over one bucket from its events and health samples; ``overdue_s`` is
    the time any restroom was overdue, ``overdue_by_restroom`` each restroom's (both within online time)."""
    row = empty_row()
    greet: Counter[int] = Counter()
    dwell: Counter[int] = Counter()
    excluded: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    filtered: Counter[str] = Counter()
    rating_flags: Counter[str] = Counter()
    cleanings: Counter[str] = Counter()
    flagged: Counter[str] = Counter()
    gaps: dict[str, float] = {}
    for event in events:
        match event:
            case Rating():
                weight = rating_weight(event.score, event.scale)
                row[f"ratings_{event.score}"] += 1
                row["ratings_n"] += 1
                row["happy_sum"] += weight
                row["happy_sq"] += weight * weight
                row["bad_n"] += weight < 0.5
                if event.location == "restroom":
                    row["ratings_restroom"] += 1
                    row["happy_sum_restroom"] += weight
                if event.reason is not None:
                    reasons[event.reason] += 1
                if event.flag is not None:
                    rating_flags[event.flag] += 1
            case FilteredPresses():
                filtered[event.reason] += event.presses
            case Cleaning(flag=None):
                # Gaps within open hours: a restroom closed overnight was not 10 h without cleaning.
                # Stations before active_since_last_s only give the clock time.
                gap = event.since_last_s if event.active_since_last_s is None else event.active_since_last_s
                row["cleanings"] += 1
                row["longest_gap_s"] = max(row["longest_gap_s"], gap or 0)
                cleanings[event.restroom] += 1
                gaps[event.restroom] = max(gaps.get(event.restroom, 0), gap or 0)
            case Cleaning():
                row["flagged"] += 1
                excluded["flagged_checkin"] += 1
                flagged[event.restroom] += 1
            case Alert():
                row["overdue_episodes"] += event.alert == StationAlert.RESTROOM_OVERDUE and event.state == "open"
            case Visit():
                row["visits"] += 1
                dwell[round(event.dwell_s)] += 1
                if event.min_fps is not None and event.min_fps < goals.min_visit_fps:
                    excluded["low_fps_visit"] += 1
                    continue
                # A car nobody greeted missed the goal: it counts in the share, not in the greet-time percentiles.
                row["greet_eligible"] += 1
                if event.greet_s is not None:
                    greet[round(event.greet_s)] += 1
                    row["greet_within_goal"] += event.greet_s <= goals.greet_s
    for fps in fps_samples:
        if fps is not None:
            row["fps_sum"] += fps
            row["fps_n"] += 1
    row["online_s"] = online_s
    row["overdue_s"] = overdue_s
    row["greet_hist"] = {str(k): v for k, v in sorted(greet.items())}
    row["dwell_hist"] = {str(k): v for k, v in sorted(dwell.items())}
    row["excluded"] = dict(sorted(excluded.items()))
    row["reasons"] = dict(sorted(reasons.items()))
    row["filtered_presses"] = dict(sorted(filtered.items()))
    row["rating_flags"] = dict(sorted(rating_flags.items()))
    row["restroom_cleanings"] = dict(sorted(cleanings.items()))
    row["restroom_flagged"] = dict(sorted(flagged.items()))
    row["restroom_overdue_s"] = {name: s for name, s in sorted((overdue_by_restroom or {}).items()) if name and s > 0}
    row["restroom_longest_gap_s"] = {name: s for name, s in sorted(gaps.items()) if s > 0}
    return row


def _loaded(value: str | Mapping) -> Mapping:
    return json.loads(value) if isinstance(value, str) else value


def _ordered(name: str, items: Iterable[tuple[str, float]]) -> dict:
    """A JSON column's items in a stable order: histograms by their number, the others by key."""
    return dict(sorted(items, key=lambda kv: int(kv[0]))) if name.endswith("_hist") else dict(sorted(items))


def _keyed_max(parts: Iterable[Mapping]) -> dict:
    out: dict[str, float] = {}
    for part in parts:
        for key, value in _loaded(part).items():
            out[key] = max(out.get(key, 0), value)
    return out


def merge(rows: Iterable[Mapping]) -> dict:
    """Rows of several buckets or stations as one: sums add, maxima take the max, histograms add."""
    out = empty_row()
    rows = list(rows)
    counters = {name: Counter() for name in ROLLUP_COUNTERS}
    for row in rows:
        for name in ROLLUP_SUMS:
            out[name] += row[name]
        for name in ROLLUP_MAXES:
            out[name] = max(out[name], row[name])
        for name in ROLLUP_COUNTERS:
            counters[name].update(_loaded(row[name]))
    for name in ROLLUP_COUNTERS:
        out[name] = _ordered(name, counters[name].items())
    for name in ROLLUP_KEYED_MAXES:
        out[name] = _ordered(name, _keyed_max(row[name] for row in rows).items())
    return out


def shift(base: Mapping, new: Mapping, old: Mapping) -> dict:
    """``base`` with one of its parts replaced: ``old`` taken out, ``new`` put in (a day when one hour is
    recomputed). Maxima only grow, which holds because a station's events are only ever added."""
    out = empty_row()
    for name in ROLLUP_SUMS:
        out[name] = base[name] + new[name] - old[name]
    for name in ROLLUP_MAXES:
        out[name] = max(base[name], new[name])
    for name in ROLLUP_COUNTERS:
        counter: Counter = Counter()
        for part, sign in ((base, 1), (new, 1), (old, -1)):
            for key, count in _loaded(part[name]).items():
                counter[key] += sign * count
        # Float sums (overdue seconds) may leave a remainder of rounding where the true value is 0.
        out[name] = _ordered(name, [(k, v) for k, v in counter.items() if v > 1e-9])
    for name in ROLLUP_KEYED_MAXES:
        out[name] = _ordered(name, _keyed_max((base[name], new[name])).items())
    return out


def percentile(hist: Mapping[str, int], p: float) -> float | None:
    """Nearest-rank percentile of whole seconds in a histogram (``{"12": 3}``: three values of 12 s)."""
    total = sum(hist.values())
    if not total:
        return None
    rank = max(1, math.ceil(p * total))
    seen = 0
    for value, count in sorted(((int(k), v) for k, v in hist.items())):
        seen += count
        if seen >= rank:
            return float(value)
    return None  # unreachable: seen reaches total


def _ratio(num: float, den: float, digits: int = 4) -> float | None:
    return round(num / den, digits) if den else None


def figures(row: Mapping) -> dict:
    """The API's view of a merged row (without ``bucket``)."""
    online_s = row["online_s"]
    return {
        "ratings": {str(level): int(row[f"ratings_{level}"]) for level in range(1, 6)},
        "happy_index": _ratio(100 * row["happy_sum"], row["ratings_n"], 2),
        "bad_rate": _ratio(row["bad_n"], row["ratings_n"]),
        "ratings_restroom": int(row["ratings_restroom"]),
        "happy_index_restroom": _ratio(100 * row["happy_sum_restroom"], row["ratings_restroom"], 2),
        "ratings_by_reason": {reason: int(n) for reason, n in _loaded(row["reasons"]).items()},
        "doubtful_ratings": {flag: int(n) for flag, n in _loaded(row["rating_flags"]).items()},
        "filtered_presses": {reason: int(n) for reason, n in _loaded(row["filtered_presses"]).items()},
        "cleanings": int(row["cleanings"]),
        "compliance": round(max(0.0, 1 - row["overdue_s"] / online_s), 4) if online_s else None,
        "longest_gap_min": round(row["longest_gap_s"] / 60, 2) if row["longest_gap_s"] else None,
        "overdue_episodes": int(row["overdue_episodes"]),
        "flagged": int(row["flagged"]),
        "visits": int(row["visits"]),
        "vehicles_per_hour": _ratio(row["visits"] * 3600, online_s, 2),
        "greet_p50": percentile(row["greet_hist"], 0.5),
        "greet_p90": percentile(row["greet_hist"], 0.9),
        "greet_within_goal": _ratio(row["greet_within_goal"], row["greet_eligible"]),
        "dwell_p50": percentile(row["dwell_hist"], 0.5),
        "dwell_p90": percentile(row["dwell_hist"], 0.9),
        "restrooms": restroom_figures(row),
        "coverage": {
            "online_min": round(online_s / 60, 2),
            "camera_fps": _ratio(row["fps_sum"], row["fps_n"], 2),
            "excluded": dict(row["excluded"]),
        },
    }


def restroom_figures(row: Mapping) -> list[dict]:
    """Per restroom id: check-ins, compliance (share of online time it was not overdue) and longest gap."""
    cleanings, flagged = _loaded(row["restroom_cleanings"]), _loaded(row["restroom_flagged"])
    overdue, gaps = _loaded(row["restroom_overdue_s"]), _loaded(row["restroom_longest_gap_s"])
    online_s = row["online_s"]
    return [
        {
            "restroom": name,
            "cleanings": int(cleanings.get(name, 0)),
            "flagged": int(flagged.get(name, 0)),
            "overdue_min": round(overdue.get(name, 0) / 60, 2),
            "compliance": round(max(0.0, 1 - overdue.get(name, 0) / online_s), 4) if online_s else None,
            "longest_gap_min": round(gaps[name] / 60, 2) if gaps.get(name) else None,
        }
        for name in sorted({*cleanings, *flagged, *overdue, *gaps})
    ]
