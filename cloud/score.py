"""The service score: 0-100 from four components, with its uncertainty and band. Pure; see docs/SCORE.md.

Each component is a share (0..1) of ``n`` observations, shown as 0-100:

- satisfaction: the Happy Index / 100 over ``ratings_n`` ratings;
- no_bad_ratings: 1 - bad-rating rate over ``ratings_n`` ratings;
- compliance: share of online time with no restroom overdue, over the online hours, once there is restroom
  data at all (a check-in or overdue time: a station without them has no compliance, not 100 %);
- greeting: share of judged visits greeted within the goal, over the judged visits.

A station that lacks enough data for a *required* component (by default all four) has no score: it is
``insufficient``, listed but not ranked, rather than scored on the components it has, which would rank
two five-star ratings and 25 visits (100.0) above 500 ratings averaging 4.8. A component that is not
required is left out when it lacks data and the remaining weights are renormalised.
The standard error of each share is ``sqrt(p'(1 - p') / (n + 2))`` with ``p' = (p n + 1) / (n + 2)``
(so a perfect record over few observations is still uncertain); the score's interval is
``score ± z * sqrt(sum((w_i / W)^2 * se_i^2))`` clipped to 0-100.
"""

import math
from dataclasses import dataclass, field
from typing import Literal

from cloud.config import ScoreSettings

Band = Literal["good", "review", "exposure", "insufficient"]


@dataclass(frozen=True)
class Totals:
    """The additive figures the score needs for one station over one period."""

    ratings_n: float = 0
    happy_sum: float = 0
    bad_n: float = 0
    online_s: float = 0
    overdue_s: float = 0
    greet_eligible: float = 0
    greet_within_goal: float = 0
    cleanings: float = 0
    flagged: float = 0  # flagged check-ins: not cleanings, but proof the restroom buttons are there


@dataclass(frozen=True)
class Score:
    score: float | None
    low: float | None
    high: float | None
    band: Band
    online_share: float
    components: dict[str, float | None] = field(default_factory=dict)


def share_se(p: float, n: float) -> float:
    smoothed = (p * n + 1) / (n + 2)
    return math.sqrt(smoothed * (1 - smoothed) / (n + 2))


def band(score: float | None, settings: ScoreSettings) -> Band:
    if score is None:
        return "insufficient"
    if score < settings.exposure_below:
        return "exposure"
    if score < settings.review_below:
        return "review"
    return "good"


def components(t: Totals, settings: ScoreSettings) -> dict[str, tuple[float, float] | None]:
    """Each component as (share, observations), or None when it has too little data."""
    enough_ratings = t.ratings_n >= settings.min_ratings
    online_h = t.online_s / 3600
    restroom_data = t.cleanings + t.flagged + t.overdue_s > 0
    return {
        "satisfaction": (t.happy_sum / t.ratings_n, t.ratings_n) if enough_ratings else None,
        "no_bad_ratings": (1 - t.bad_n / t.ratings_n, t.ratings_n) if enough_ratings else None,
        "compliance": (max(0.0, 1 - t.overdue_s / t.online_s), max(1.0, math.floor(online_h)))
        if t.online_s and restroom_data else None,
        "greeting": (t.greet_within_goal / t.greet_eligible, t.greet_eligible)
        if t.greet_eligible >= settings.min_visits else None,
    }


def service_score(t: Totals, period_s: float, settings: ScoreSettings) -> Score:
    """The score of ``t`` gathered over a period of ``period_s`` seconds (elapsed so far, if it is running).

    One pass over the components, weights read off the settings: a ranking scores 30,000 stations, and
    generator expressions and a cached lookup keyed by the (hashed, compared) weights model were a third of it."""
    online_share = min(1.0, t.online_s / period_s) if period_s > 0 else 0.0
    parts = components(t, settings)
    weights = settings.weights
    shown: dict[str, float | None] = {}
    present: list[tuple[float, float, float]] = []  # (weight, share, its standard error)
    total_weight = 0.0
    for name, part in parts.items():
        if part is None:
            shown[name] = None
            continue
        shown[name] = round(100 * part[0], 2)
        weight = getattr(weights, name)
        if weight > 0:
            present.append((weight, part[0], share_se(*part)))
            total_weight += weight
    lacking = any(parts[name] is None for name in settings.required)
    if (online_share < settings.min_online_share or lacking or len(present) < settings.min_components
            or not total_weight):
        return Score(None, None, None, "insufficient", round(online_share, 4), shown)
    weighted = variance = 0.0
    for weight, share, se in present:
        weighted += weight * share
        variance += (weight / total_weight) ** 2 * se ** 2
    value = 100 * weighted / total_weight
    se = 100 * math.sqrt(variance)
    low, high = max(0.0, value - settings.z * se), min(100.0, value + settings.z * se)
    value = round(value, 2)  # the band follows the score people see
    return Score(value, round(low, 2), round(high, 2), band(value, settings), round(online_share, 4), shown)
