"""Today's figures at this station, from the events it records: for its own page, its /metrics and Home
Assistant. HQ computes the real ones from what it stored; these are for the people on site.

:class:`DayTally` sees every draft that reached the outbox (the service taps its sinks) and keeps counts of
the station-local day. It holds nothing across a restart except the restrooms' last check-ins (which the
outbox keeps), so every figure says since when it counts (:attr:`TodayFigures.since`).
"""

import statistics
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from edge.events import Draft
from forecourt.protocol import CleaningBody, RatingBody, VisitBody

RECENT_VISITS = 10


def happy_index(counts: Mapping[int, int], scale: int) -> float | None:
    """docs/SCORE.md: a rating weighs (score - 1) / (scale - 1); the index is the mean weight x 100."""
    n = sum(counts.values())
    if not n:
        return None
    return 100 * sum((score - 1) / (scale - 1) * k for score, k in counts.items()) / n


@dataclass(frozen=True)
class RecentVisit:
    bay: str
    departed_at: float
    dwell_s: float
    greet_s: float | None


@dataclass(frozen=True)
class TodayFigures:
    day: str  # the station-local date these count, YYYY-MM-DD
    since: float  # counting since (epoch seconds): local midnight, or the service's start if later
    ratings: dict[str, dict[int, int]]  # kiosk -> score -> ratings today
    happy_index: float | None  # over every kiosk today (None: no rating yet)
    happy_by_kiosk: dict[str, float | None]
    cars: int  # pump-bay visits that ended today
    greet_p50_s: float | None  # median greeting time of today's greeted visits
    last_cleaned: dict[str, float]  # restroom -> its last counted check-in (any day)
    check_ins: dict[str, int]  # restroom -> counted check-ins today
    last_rating: dict[str, tuple[int, float]]  # kiosk -> (score, when)
    recent_visits: list[RecentVisit] = field(default_factory=list)


class DayTally:
    """Thread-safe: drafts come from GPIO callbacks and the camera thread, views from the page and HA."""

    def __init__(
        self, *, kiosk_scales: Mapping[str, int], restrooms: list[str], timezone: str, started_at: float,
        last_check_ins: Mapping[str, float] | None = None,
    ) -> None:
        self._scales = dict(kiosk_scales)
        self._restrooms = list(restrooms)
        self._zone = ZoneInfo(timezone)
        self._started_at = started_at
        self._lock = threading.Lock()
        self._last_cleaned = {k: v for k, v in (last_check_ins or {}).items() if k in self._restrooms}
        self._last_rating: dict[str, tuple[int, float]] = {}
        self._recent: deque[RecentVisit] = deque(maxlen=RECENT_VISITS)
        self._day = ""
        self._reset(self._local_day(started_at))

    def _local_day(self, at: float) -> str:
        return datetime.fromtimestamp(at, self._zone).date().isoformat()

    def _reset(self, day: str) -> None:
        self._day = day
        self._ratings = {kiosk: dict.fromkeys(range(1, scale + 1), 0) for kiosk, scale in self._scales.items()}
        self._check_ins = dict.fromkeys(self._restrooms, 0)
        self._cars = 0
        self._greets: list[float] = []

    def _roll(self, at: float) -> bool:
        """Start a new day if ``at`` is in one; False for a draft of a day already past (a late one)."""
        day = self._local_day(at)
        if day > self._day:
            self._reset(day)
        return day == self._day

    def record(self, draft: Draft) -> None:
        body = draft.body
        with self._lock:
            today = self._roll(draft.at)
            if isinstance(body, RatingBody) and body.kiosk in self._ratings:
                self._last_rating[body.kiosk] = (body.score, draft.at)
                if today:
                    self._ratings[body.kiosk][body.score] = self._ratings[body.kiosk].get(body.score, 0) + 1
            elif isinstance(body, CleaningBody) and body.flag is None and body.restroom in self._check_ins:
                self._last_cleaned[body.restroom] = max(draft.at, self._last_cleaned.get(body.restroom, 0.0))
                if today:
                    self._check_ins[body.restroom] += 1
            elif isinstance(body, VisitBody):
                self._recent.appendleft(RecentVisit(body.bay, draft.at, body.dwell_s, body.greet_s))
                if today:
                    self._cars += 1
                    if body.greet_s is not None:
                        self._greets.append(body.greet_s)

    def figures(self, now: float) -> TodayFigures:
        with self._lock:
            self._roll(now)
            midnight = datetime.fromisoformat(self._day).replace(tzinfo=self._zone).timestamp()
            by_kiosk = {k: happy_index(c, self._scales[k]) for k, c in self._ratings.items()}
            weights = [(h, sum(self._ratings[k].values())) for k, h in by_kiosk.items() if h is not None]
            n = sum(w for _, w in weights)
            return TodayFigures(
                day=self._day,
                since=max(midnight, self._started_at),
                ratings={k: dict(c) for k, c in self._ratings.items()},
                happy_index=sum(h * w for h, w in weights) / n if n else None,
                happy_by_kiosk=by_kiosk,
                cars=self._cars,
                greet_p50_s=statistics.median(self._greets) if self._greets else None,
                last_cleaned=dict(self._last_cleaned),
                check_ins=dict(self._check_ins),
                last_rating=dict(self._last_rating),
                recent_visits=list(self._recent),
            )
