"""Rollups: per station, per hour (from events, health and status) and per day (from hours), recomputed
for the buckets that ingest marked dirty; months and regions are merged from these rows on query.

Online time is when the retained status said online (birth .. last will) or a health sample proves the
edge was running (``ts - uptime_s`` .. ``ts``: history replayed after a link outage); a restroom counts as
overdue between the station's ``restroom_overdue`` alert opening and clearing; compliance is the share
of online time in which no restroom was overdue.
"""

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from cloud.config import GoalSettings
from cloud.figures import clip, empty_row, figures, hour_row, intersect, measure, merge, shift, timeline
from cloud.registry import region_sql
from cloud.store import ROLLUP_JSON, ROLLUP_MAXES, ROLLUP_SUMS, writing
from forecourt.protocol import format_ts, parse_ts

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
        "SELECT ts, json_extract(payload, '$.uptime_s') FROM health WHERE station = ? AND ts >= ? AND ts < ?",
        [station, format_ts(start), format_ts(end + RUNNING_LOOKAHEAD)],
    )
    return clip(
        [(parse_ts(ts) - timedelta(seconds=up), parse_ts(ts)) for ts, up in rows if up is not None], start, end
    )


def overdue_intervals(db: Database, station: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """When any restroom was overdue, from the station's own overdue alerts (open ... cleared)."""
    per_restroom: dict[str, list[tuple[datetime, bool]]] = defaultdict(list)
    for payload in db.execute(
        "SELECT payload FROM events WHERE station = ? AND kind = 'alert' AND ts >= ? AND ts < ? ORDER BY ts, seq",
        [station, format_ts(start - OVERDUE_LOOKBACK), format_ts(end)],
    ):
        alert = json.loads(payload[0])
        if alert["alert"] == "restroom_overdue":
            per_restroom[alert.get("subject") or ""].append((parse_ts(alert["ts"]), alert["state"] == "open"))
    return [piece for changes in per_restroom.values() for piece in clip(timeline(changes, end), start, end)]


def compute_hour(db: Database, station: str, key: str, now: datetime, goals: GoalSettings) -> dict:
    start = hour_start(key)
    end = min(start + timedelta(hours=1), max(now, start))
    events = [
        json.loads(p)
        for (p,) in db.execute(
            "SELECT payload FROM events WHERE station = ? AND ts >= ? AND ts < ?",
            [station, format_ts(start), format_ts(start + timedelta(hours=1))],
        )
    ]
    fps = [
        f for (f,) in db.execute(
            "SELECT camera_fps FROM health WHERE station = ? AND ts >= ? AND ts < ?",
            [station, format_ts(start), format_ts(start + timedelta(hours=1))],
        )
    ]
    online = online_intervals(db, station, start, end) + running_intervals(db, station, start, end)
    overdue = intersect(online, overdue_intervals(db, station, start, end))
    return hour_row(events, fps, online_s=measure(online), overdue_s=measure(overdue), goals=goals)


def _upsert(db: Database, station: str, period: str, bucket: str, complete: bool, row: dict) -> None:
    values = [json.dumps(row[c]) if c in ROLLUP_JSON else row[c] for c in COLUMNS]
    db.execute(
        f"INSERT OR REPLACE INTO rollups (station, period, bucket, complete, {', '.join(COLUMNS)}) "
        f"VALUES (?, ?, ?, ?, {', '.join('?' * len(COLUMNS))})",
        [station, period, bucket, int(complete), *values],
    )


def _rows(db: Database, where: str, params: list) -> list[dict]:
    cursor = db.execute(f"SELECT bucket, {', '.join(COLUMNS)} FROM rollups WHERE {where}", params)
    return [dict(zip(("bucket", *COLUMNS), r, strict=True)) for r in cursor]


def online_at(db: Database, station: str, when: datetime) -> bool:
    row = db.execute(
        "SELECT state FROM status_log WHERE station = ? AND at < ? ORDER BY at DESC, id DESC LIMIT 1",
        [station, format_ts(when)],
    ).fetchone()
    return row is not None and row[0] == "online"


def run_rollups(db: Database, now: datetime, goals: GoalSettings, *, limit: int = 20_000) -> int:
    """Recompute the dirty station-hours and fold each change into its day and month; returns how many
    hours were computed.

    Dirty marks are taken (deleted) before computing so marks added meanwhile are not lost. Hours
    that are not over yet stay marked, because their online time keeps growing; a finished hour at
    whose end the station was online hands the mark on to the next hour, so an online station that
    sends nothing for hours still gets its online time counted.
    """
    with writing(db):
        taken = db.execute("SELECT station, hour FROM dirty ORDER BY hour LIMIT ?", [limit]).fetchall()
        db.conn.executemany("DELETE FROM dirty WHERE station = ? AND hour = ?", taken)
    work, seen = list(taken), set(taken)
    with writing(db):
        while work:
            station, key = work.pop()
            end = hour_start(key) + timedelta(hours=1)
            complete = end <= now
            apply_hour(db, station, key, compute_hour(db, station, key, now, goals), now)
            following = (station, format_ts(end)[:13])
            if not complete:
                db.execute("INSERT OR IGNORE INTO dirty (station, hour) VALUES (?, ?)", [station, key])
            elif following not in seen and online_at(db, station, end):
                seen.add(following)
                work.append(following)
    return len(seen)


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
        db.execute("INSERT OR IGNORE INTO dirty (station, hour) VALUES (?, ?)", [station, format_ts(hour)[:13]])
        hour += timedelta(hours=1)


def metrics(
    db: Database, *, bucket: str, station: str | None = None, region: str | None = None,
    scope: tuple[str, list] = ("1", []), start: str | None = None, end: str | None = None,
) -> list[dict]:
    """Figures per bucket (hour, day or month) for one station or all stations of a region in scope."""
    period, width = {"hour": ("hour", 13), "day": ("day", 10), "month": ("month", 7)}[bucket]
    clauses, params = ["period = ?"], [period]
    if station is not None:
        clauses.append("station = ?")
        params.append(station)
    else:
        where, args = region_sql("s.region", region or "")
        scope_sql, scope_args = scope
        clauses.append(f"station IN (SELECT s.id FROM stations s WHERE {scope_sql} AND {where})")
        params += scope_args + args
    if start:
        clauses.append("bucket >= ?")
        params.append(start[:width])
    if end:
        clauses.append("bucket < ?")
        params.append(end[:width])
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in _rows(db, " AND ".join(clauses), params):
        groups[row["bucket"]].append(row)
    return [{"bucket": bucket_ts(key), **figures(merge(rows))} for key, rows in sorted(groups.items())]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
