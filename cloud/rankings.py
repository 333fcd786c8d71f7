"""Monthly and weekly rankings across the chain or within a region, from the daily rollups.

Stations with too little data are listed with band ``insufficient`` and no rank. Ties share a rank
(1, 2, 2, 4); the order within a tie is by station id so the list is stable.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cloud.alerts import open_alert_counts
from cloud.config import ScoreSettings
from cloud.database import Database
from cloud.registry import region_sql
from cloud.score import Totals, service_score
from forecourt.errors import ForecourtError

_SUMS = ("ratings_n", "happy_sum", "bad_n", "online_s", "overdue_s", "greet_eligible", "greet_within_goal", "cleanings",
         "flagged")  # in Totals' field order
_EVERY_STATION = "1 = 1 AND 1 = 1"  # an HQ caller's scope with no region: rollups need no join to stations


class PeriodError(ForecourtError, ValueError):
    """A ranking period is not YYYY-MM or YYYY-Www."""


@dataclass(frozen=True)
class Period:
    kind: str
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        if self.kind == "month":
            return self.start.strftime("%Y-%m")
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    def previous(self) -> "Period":
        if self.kind == "week":
            return Period("week", self.start - timedelta(days=7), self.start)
        start = (self.start - timedelta(days=1)).replace(day=1)
        return Period("month", start, self.start)


def parse_period(kind: str, at: str | None, now: datetime) -> Period:
    """``month`` + ``2026-11`` or ``week`` + ``2026-W48``; without ``at``, the period containing ``now``."""
    if kind == "month":
        if at is None:
            at = now.strftime("%Y-%m")
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", at):
            raise PeriodError(f"at={at!r}: a month is YYYY-MM, e.g. 2026-11")
        start = datetime.fromisoformat(at + "-01T00:00:00+00:00")
        end = (start + timedelta(days=32)).replace(day=1)
        return Period("month", start, end)
    if kind == "week":
        if at is None:
            year, week, _ = now.isocalendar()
            at = f"{year}-W{week:02d}"
        match = re.fullmatch(r"(\d{4})-W(\d{2})", at)
        try:
            start = datetime.fromisocalendar(int(match[1]), int(match[2]), 1).replace(tzinfo=UTC) if match else None
        except ValueError:
            start = None
        if start is None:
            raise PeriodError(f"at={at!r}: a week is YYYY-Www (ISO 8601), e.g. 2026-W48")
        return Period("week", start, start + timedelta(days=7))
    raise PeriodError(f"period={kind!r}: use month or week")


def _totals(db: Database, period: Period, station_where: str, params: list) -> dict[str, Totals]:
    """A month is one stored month row per station, read as it is; a week sums seven day rows."""
    if period.kind == "month":
        bucket_sql, bucket_args = "period = 'month' AND bucket = ?", [period.label]
        figures, grouped = ", ".join(_SUMS), ""
    else:
        bucket_sql = "period = 'day' AND bucket >= ? AND bucket < ?"
        bucket_args = [period.start.strftime("%Y-%m-%d"), period.end.strftime("%Y-%m-%d")]
        figures, grouped = ", ".join(f"SUM({name})" for name in _SUMS), " GROUP BY station"
    within = "" if station_where == _EVERY_STATION else f" AND station IN (SELECT id FROM stations WHERE {station_where})"
    rows = db.execute(
        f"SELECT station, {figures} FROM rollups WHERE {bucket_sql}{within}{grouped}", [*bucket_args, *params],
    ).fetchall()  # at once: psycopg hands rows over one Python call at a time when iterated
    return {row[0]: Totals(*row[1:]) for row in rows}


def rankings(
    db: Database, period: Period, now: datetime, settings: ScoreSettings, *, region: str | None = None,
    scope: tuple[str, list] = ("1 = 1", []),
) -> list[dict]:
    where, args = region_sql("region", region or "")
    station_where, params = f"{scope[0]} AND {where}", [*scope[1], *args]
    current = _totals(db, period, station_where, params)
    before = _totals(db, period.previous(), station_where, params)
    elapsed = (min(period.end, now) - period.start).total_seconds()
    previous_s = (period.previous().end - period.previous().start).total_seconds()
    alerts = open_alert_counts(db)
    out = []
    for station, name, station_region in db.execute(
        f"SELECT id, name, region FROM stations WHERE {station_where}", params
    ).fetchall():
        totals = current.get(station, Totals())
        score = service_score(totals, elapsed, settings)
        previous = service_score(before[station], previous_s, settings).score if station in before else None
        out.append({
            "rank": None, "station": station, "name": name, "region": station_region, "score": score.score,
            "band": score.band, "score_low": score.low, "score_high": score.high, "previous_score": previous,
            "trend": round(score.score - previous, 2) if score.score is not None and previous is not None else None,
            "open_alerts": alerts.get(station, 0),
            "coverage": {
                "online_min": round(totals.online_s / 60, 2), "online_share": score.online_share,
                "ratings": int(totals.ratings_n), "visits_judged": int(totals.greet_eligible),
            },
            "components": score.components,
        })
    out.sort(key=lambda r: (r["score"] is None, -(r["score"] or 0), r["station"]))
    for index, row in enumerate(out):
        if row["score"] is None:
            break
        tied = index and out[index - 1]["score"] == row["score"]
        row["rank"] = out[index - 1]["rank"] if tied else index + 1
    return out
