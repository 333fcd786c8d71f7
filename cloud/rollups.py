"""Rollups: per station, per hour (from events, health and status) and per day (from hours), recomputed
for the buckets that ingest marked dirty; months and regions are merged from these rows on query.

Online time is when the retained status said online (birth .. last will) or a health sample proves the
edge was running (``ts - uptime_s`` .. ``ts``: history replayed after a link outage); a restroom counts as
overdue between the station's ``restroom_overdue`` alert opening and clearing; compliance is the share
of online time in which no restroom was overdue.

A station-hour whose recomputation raises (a row an older collector stored, out of range or unreadable) is
set aside in ``poison_hours`` with the error and logged; the rest of the queue is rolled up regardless.
"""

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cloud.config import GoalSettings
from cloud.database import Database, database_fault
from cloud.events import stored_events
from cloud.figures import clip, empty_row, figures, hour_row, intersect, measure, merge, shift, timeline
from cloud.registry import region_sql
from cloud.store import ROLLUP_JSON, ROLLUP_MAXES, ROLLUP_SUMS, writing
from forecourt.protocol import Alert, StationAlert, format_ts, parse_ts

log = logging.getLogger("forecourt.collector.rollups")
COLUMNS = ROLLUP_SUMS + ROLLUP_MAXES + ROLLUP_JSON
OVERDUE_LOOKBACK = timedelta(days=7)
RUNNING_LOOKAHEAD = timedelta(hours=1)  # health comes at least hourly (edge default: every minute)


def hour_start(key: str) -> datetime:
    return datetime.fromisoformat(key + ":00:00+00:00")


def bucket_ts(key: str) -> str:
    """A bucket key (``2026-11-23T10``, ``2026-11-23``, ``2026-11``) as the RFC 3339 time it starts at."""
    if len(key) == 7:
        key += "-01"
    if len(key) == 10:
        key += "T00"
    return format_ts(hour_start(key))


def online_intervals(db: Database, station: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    before = db.execute(
        "SELECT state FROM status_log WHERE station = ? AND at < ? ORDER BY at DESC LIMIT 1", [station, format_ts(start)]
    ).fetchone()
    changes = [(start, before is not None and before[0] == "online")]
    changes += [
        (parse_ts(at), state == "online")
        for at, state in db.execute(
            "SELECT at, state FROM status_log WHERE station = ? AND at >= ? AND at < ? ORDER BY at, id",
            [station, format_ts(start), format_ts(end)],
        )
    ]
    return clip(timeline(changes, end), start, end)


def running_intervals(db: Database, station: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """When the station's edge service was running, as its health samples prove (``ts - uptime_s`` .. ``ts``).

    The outbox replays what a station measured while its link was down, so those hours are covered
    although the retained status said offline. Samples come at least hourly, so the next hour holds
    the one that covers the end of this one.
    """
    rows = db.execute(
        "SELECT ts, (payload ->> 'uptime_s') FROM health WHERE station = ? AND ts >= ? AND ts < ?",
        [station, format_ts(start), format_ts(end + RUNNING_LOOKAHEAD)],
    )
    return clip(
        [(parse_ts(ts) - timedelta(seconds=float(up)), parse_ts(ts)) for ts, up in rows if up is not None], start, end
    )


def overdue_intervals(db: Database, station: str, start: datetime, end: datetime) -> dict[str, list[tuple[datetime, datetime]]]:
    """When each restroom was overdue, from the station's own overdue alerts (open ... cleared)."""
    per_restroom: dict[str, list[tuple[datetime, bool]]] = defaultdict(list)
    rows = db.execute(
        "SELECT kind, payload FROM events WHERE station = ? AND kind = 'alert' AND ts >= ? AND ts < ? ORDER BY ts, seq",
        [station, format_ts(start - OVERDUE_LOOKBACK), format_ts(end)],
    )
    for alert in stored_events(rows):
        if isinstance(alert, Alert) and alert.alert == StationAlert.RESTROOM_OVERDUE:
            per_restroom[alert.subject or ""].append((parse_ts(alert.ts), alert.state == "open"))
    return {name: clip(timeline(changes, end), start, end) for name, changes in per_restroom.items()}


def compute_hour(db: Database, station: str, key: str, now: datetime, goals: GoalSettings) -> dict:
    start = hour_start(key)
    end = min(start + timedelta(hours=1), max(now, start))
    events = list(stored_events(db.execute(
        "SELECT kind, payload FROM events WHERE station = ? AND ts >= ? AND ts < ?",
        [station, format_ts(start), format_ts(start + timedelta(hours=1))],
    )))
    fps = [
        f for (f,) in db.execute(
            "SELECT camera_fps FROM health WHERE station = ? AND ts >= ? AND ts < ?",
            [station, format_ts(start), format_ts(start + timedelta(hours=1))],
        )
    ]
    online = online_intervals(db, station, start, end) + running_intervals(db, station, start, end)
    by_restroom = {name: intersect(online, pieces) for name, pieces in overdue_intervals(db, station, start, end).items()}
    overdue = [piece for pieces in by_restroom.values() for piece in pieces]
    return hour_row(events, fps, online_s=measure(online), overdue_s=measure(overdue), goals=goals,
                    overdue_by_restroom={name: measure(pieces) for name, pieces in by_restroom.items()})


_UPSERT_ROLLUP = (
    f"INSERT INTO rollups (station, period, bucket, complete, {', '.join(COLUMNS)}) "
    f"VALUES (?, ?, ?, ?, {', '.join('?' * len(COLUMNS))}) ON CONFLICT (period, bucket, station) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in ("complete", *COLUMNS))
)


def _upsert(db: Database, station: str, period: str, bucket: str, complete: bool, row: dict) -> None:
    values = [json.dumps(row[c]) if c in ROLLUP_JSON else row[c] for c in COLUMNS]
    db.execute(_UPSERT_ROLLUP, [station, period, bucket, int(complete), *values])


def _rows(db: Database, where: str, params: list) -> list[dict]:
    cursor = db.execute(f"SELECT bucket, {', '.join(COLUMNS)} FROM rollups WHERE {where}", params)
    return [dict(zip(("bucket", *COLUMNS), r, strict=True)) for r in cursor]


def online_at(db: Database, station: str, when: datetime) -> bool:
    row = db.execute(
        "SELECT state FROM status_log WHERE station = ? AND at < ? ORDER BY at DESC, id DESC LIMIT 1",
        [station, format_ts(when)],
    ).fetchone()
    return row is not None and row[0] == "online"


ERROR_CHARS = 1000


@dataclass(frozen=True)
class RollupRun:
    computed: int  # station-hours recomputed and stored
    poisoned: int  # station-hours whose recomputation raised, set aside in poison_hours


def run_rollups(db: Database, now: datetime, goals: GoalSettings, *, limit: int = 20_000) -> int:
    """Recompute the dirty station-hours (see :func:`roll_up`); returns how many were computed."""
    return roll_up(db, now, goals, limit=limit).computed


def roll_up(db: Database, now: datetime, goals: GoalSettings, *, limit: int = 20_000) -> RollupRun:
    """Recompute the dirty station-hours and fold each change into its day and month.

    One write transaction per station, holding the station's row (:func:`take_station`): ingest of that
    station waits meanwhile, so no mark can be added between reading an hour's data and deleting its
    mark, and two collectors never fold into the same day row at once. In it one savepoint per hour: an
    hour's result and the deletion of its mark commit together or not at all. An hour whose computation
    raises is rolled back to its savepoint, set aside in ``poison_hours`` with the error (its mark
    deleted, in the same savepoint) and logged, and the rest proceeds; a later mark for it tries again.
    A fault of the database itself (locked, I/O, full) ends the run with every mark still in place.

    Hours that are not over yet stay marked, because their online time keeps growing; a finished hour at
    whose end the station was online hands the mark on to the next hour, so an online station that
    sends nothing for hours still gets its online time counted.
    """
    computed = poisoned = 0
    for (station,) in db.execute("SELECT DISTINCT station FROM dirty ORDER BY station").fetchall():
        if computed + poisoned >= limit:
            break
        with writing(db):
            if not take_station(db, station):
                continue  # another collector rolls it up, or ingest holds it: the next run comes back
            taken = [(station, hour) for (hour,) in db.execute(
                "SELECT hour FROM dirty WHERE station = ? ORDER BY hour LIMIT ?", [station, limit - computed - poisoned]
            )]
            work, seen = list(taken), set(taken)
            while work:
                station, key = work.pop()
                try:
                    with writing(db):  # a savepoint inside the station's transaction
                        following = _roll_hour(db, station, key, now, goals)
                except Exception as err:
                    if database_fault(err):
                        raise
                    with writing(db):
                        _set_aside(db, station, key, err, now)
                    poisoned += 1
                    continue
                computed += 1
                if following is not None and following not in seen:
                    seen.add(following)
                    work.append(following)
    if poisoned:
        log.error("rollups: %d station-hour(s) set aside in poison_hours; %d rolled up", poisoned, computed)
    return RollupRun(computed, poisoned)


def take_station(db: Database, station: str) -> bool:
    """Hold ``station``'s row for this transaction, unless another collector holds it (then False at once).

    The dirty queue is handed out by station, not by hour, because a station's hours fold into shared
    day and month rows. On SQLite the write lock already makes the run the only writer."""
    if not db.dialect.take_queue:
        return True
    if db.execute(f"SELECT id FROM stations WHERE id = ?{db.dialect.take_queue}", [station]).fetchone():
        return True
    return db.execute("SELECT 1 FROM stations WHERE id = ?", [station]).fetchone() is None  # no row to hold


def _roll_hour(db: Database, station: str, key: str, now: datetime, goals: GoalSettings) -> tuple[str, str] | None:
    """Store one station-hour and settle its mark; returns the next hour if this one hands its mark on."""
    end = hour_start(key) + timedelta(hours=1)
    apply_hour(db, station, key, compute_hour(db, station, key, now, goals), now)
    db.execute("DELETE FROM poison_hours WHERE station = ? AND hour = ?", [station, key])
    if end > now:
        db.execute("INSERT INTO dirty (station, hour) VALUES (?, ?) ON CONFLICT DO NOTHING", [station, key])
        return None
    db.execute("DELETE FROM dirty WHERE station = ? AND hour = ?", [station, key])
    return (station, format_ts(end)[:13]) if online_at(db, station, end) else None


def _set_aside(db: Database, station: str, key: str, err: Exception, now: datetime) -> None:
    error = f"{type(err).__name__}: {err}"[:ERROR_CHARS].encode("utf-8", "backslashreplace").decode()
    log.error("rollups: station %s hour %s set aside in poison_hours: %s", station, key, error, exc_info=err)
    db.execute("DELETE FROM dirty WHERE station = ? AND hour = ?", [station, key])
    db.execute(
        """INSERT INTO poison_hours (station, hour, error, failed_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (station, hour) DO UPDATE SET error = excluded.error, failed_at = excluded.failed_at,
           attempts = poison_hours.attempts + 1""",
        [station, key, error, format_ts(now)],
    )


def _row(db: Database, station: str, period: str, bucket: str) -> dict:
    rows = _rows(db, "period = ? AND bucket = ? AND station = ?", [period, bucket, station])
    return rows[0] if rows else empty_row()


def apply_hour(db: Database, station: str, key: str, row: dict, now: datetime) -> None:
    """Store a station-hour and fold the change into its day and month rows.

    Three point reads instead of re-reading a day's 24 hours and a month's 30 days, which lie far apart
    in a table ordered for chain-wide queries (that cost ~10-100 ms per station on a 30,000-station chain).
    """
    old = _row(db, station, "hour", key)
    start = hour_start(key)
    _upsert(db, station, "hour", key, start + timedelta(hours=1) <= now, row)
    day_end = hour_start(key[:10] + "T00") + timedelta(days=1)
    month_end = (hour_start(key[:7] + "-01T00") + timedelta(days=32)).replace(day=1)
    for period, bucket, end in (("day", key[:10], day_end), ("month", key[:7], month_end)):
        _upsert(db, station, period, bucket, end <= now, shift(_row(db, station, period, bucket), row, old))


def mark_all_hours(db: Database, station: str, start: datetime, end: datetime) -> None:
    """Mark every hour of a span dirty (e.g. after importing history)."""
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        db.execute("INSERT INTO dirty (station, hour) VALUES (?, ?) ON CONFLICT DO NOTHING", [station, format_ts(hour)[:13]])
        hour += timedelta(hours=1)


def metrics(
    db: Database, *, bucket: str, station: str | None = None, region: str | None = None,
    scope: tuple[str, list] = ("1 = 1", []), start: str | None = None, end: str | None = None,
) -> list[dict]:
    """Figures per bucket (hour, day or month) for one station or all stations of a region in scope.

    Each bucket's coverage counts the station-hours in it set aside as poison: their figures are missing
    from the bucket, and a bucket with nothing but poison still appears, so a gap never reads as a quiet hour.
    """
    period, width = {"hour": ("hour", 13), "day": ("day", 10), "month": ("month", 7)}[bucket]
    if station is not None:
        stations, params = "station = ?", [station]
    else:
        where, args = region_sql("s.region", region or "")
        scope_sql, scope_args = scope
        stations, params = f"station IN (SELECT s.id FROM stations s WHERE {scope_sql} AND {where})", scope_args + args
    bounds = [(op, when[:width]) for op, when in ((">=", start), ("<", end)) if when]

    def within(key: str) -> str:
        return "".join(f" AND {key} {op} ?" for op, _ in bounds)

    groups: dict[str, list[dict]] = defaultdict(list)
    for row in _rows(db, f"period = ? AND {stations}{within('bucket')}", [period, *params, *(v for _, v in bounds)]):
        groups[row["bucket"]].append(row)
    poisoned = dict(db.execute(
        f"""SELECT substr(hour, 1, {width}) AS key, count(*) FROM poison_hours
            WHERE {stations}{within(f'substr(hour, 1, {width})')} GROUP BY key""",
        [*params, *(v for _, v in bounds)],
    ).fetchall())
    out = []
    for key in sorted(groups.keys() | poisoned.keys()):
        shown = figures(merge(groups.get(key, [])))
        shown["coverage"]["poisoned_hours"] = poisoned.get(key, 0)
        out.append({"bucket": bucket_ts(key), **shown})
    return out


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
