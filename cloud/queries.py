"""Read-side queries over stations, events, alerts, metrics, rankings and exports, shaped as the API
returns them. Each takes the caller's :class:`~cloud.auth.Scope`; :func:`scope_sql` is the one place a
Scope becomes SQL, so every route scopes alike.
"""

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

from cloud import alerts as lifecycle
from cloud import rankings as ranking
from cloud import rollups
from cloud.alerts import open_alert_counts
from cloud.auth import Scope
from cloud.config import ScoreSettings
from cloud.database import Database
from cloud.figures import figures, merge
from cloud.ingest import event_dict
from cloud.registry import region_sql
from forecourt.protocol import format_ts, parse_ts

_STATION_COLUMNS = "id, name, region, status, last_seen, version, auto_registered, status_at"
RESTROOM_LOOKBACK = timedelta(days=90)
SUMMARY_WINDOW = timedelta(days=7)
EVENT_COLUMNS = ("id", "station", "kind", "ts", "seq", "received_at", "payload")
ROLLUP_COLUMNS = ("station", "bucket", "complete", *rollups.COLUMNS)


def scope_sql(scope: Scope, *, id_column: str = "s.id", region_column: str = "s.region") -> tuple[str, list]:
    """A WHERE fragment over the stations table, and its parameters, selecting exactly the stations
    ``scope`` covers (the region as :func:`cloud.registry.region_sql` selects it)."""
    clauses, params = [], []
    if scope.region:
        where, args = region_sql(region_column, scope.region)
        clauses.append(where)
        params += args
    if scope.station is not None:
        clauses.append(f"{id_column} = ?")
        params.append(scope.station)
    return " AND ".join(clauses) or "1 = 1", params


def station_rows(db: Database, scope: Scope) -> list[dict]:
    counts = open_alert_counts(db)
    where, params = scope_sql(scope, id_column="id", region_column="region")
    rows = db.execute(f"SELECT {_STATION_COLUMNS} FROM stations WHERE {where} ORDER BY region, id", params)
    out = []
    for row in rows:
        record = dict(zip([c.strip() for c in _STATION_COLUMNS.split(",")], row, strict=True))
        record["auto_registered"] = bool(record["auto_registered"])
        record["open_alerts"] = counts.get(record["id"], 0)
        out.append(record)
    return out


def restrooms(db: Database, station: str, now: datetime) -> list[dict]:
    """Each restroom seen in check-ins or overdue alerts: last counted check-in and whether it is overdue now."""
    since = format_ts(now - RESTROOM_LOOKBACK)
    last = dict(
        db.execute(
            """SELECT (payload ->> 'restroom'), max(ts) FROM events
               WHERE station = ? AND kind = 'cleaning' AND ts >= ? AND (payload ->> 'flag') IS NULL
               GROUP BY 1""",
            [station, since],
        ).fetchall()
    )
    overdue = {
        subject: state == "open"
        for subject, state, _ in db.execute(
            """SELECT (payload ->> 'subject'), (payload ->> 'state'), max(ts) FROM events
               WHERE station = ? AND kind = 'alert' AND ts >= ? AND (payload ->> 'alert') = 'restroom_overdue'
               GROUP BY 1""",
            [station, since],
        )
        if subject
    }
    names = sorted(set(last) | set(overdue))
    return [
        {
            "restroom": name,
            "last_checkin": last.get(name),
            "since_s": round((now - parse_ts(last[name])).total_seconds(), 3) if last.get(name) else None,
            "overdue": overdue.get(name, False),
        }
        for name in names
    ]


def seq_gaps(db: Database, station: str) -> list[dict]:
    rows = db.execute(
        "SELECT first_seq, last_seq, detected_at FROM seq_gaps WHERE station = ? ORDER BY first_seq", [station]
    )
    return [{"first_seq": a, "last_seq": b, "missing": b - a + 1, "detected_at": d} for a, b, d in rows]


def station_detail(db: Database, station: str, now: datetime) -> dict:
    (record,) = station_rows(db, Scope(station=station))
    health, duplicates, last_seq = db.execute(
        "SELECT health, duplicates, last_seq FROM stations WHERE id = ?", [station]
    ).fetchone()
    return {
        **record,
        "restrooms": restrooms(db, station, now),
        "health": json.loads(health) if health else None,
        "seq_gaps": seq_gaps(db, station),
        "duplicates": duplicates,
        "last_seq": last_seq,
    }


def station_events(
    db: Database, station: str, *, kind: str | None, start: str | None, end: str | None, limit: int
) -> list[dict]:
    clauses, args = ["station = ?"], [station]
    for clause, value in (("kind = ?", kind), ("ts >= ?", start), ("ts < ?", end)):
        if value is not None:
            clauses.append(clause)
            args.append(value)
    rows = db.execute(
        f"SELECT payload, received_at FROM events WHERE {' AND '.join(clauses)} ORDER BY ts, seq LIMIT ?",
        [*args, limit],
    )
    return [event_dict(row) for row in rows]


def dead_letters(db: Database, scope: Scope, limit: int = 500) -> list[dict]:
    """Newest first; a letter with no (known) station is inside only the whole chain's scope."""
    where, params = scope_sql(scope)
    if scope.station is not None:
        where, params = f"{where} AND d.station = ?", [*params, scope.station]
    rows = db.execute(
        f"""SELECT d.id, d.received_at, d.topic, d.station, d.reason, d.size, d.payload FROM dead_letters d
            LEFT JOIN stations s ON s.id = d.station WHERE {where} ORDER BY d.id DESC LIMIT ?""",
        [*params, limit],
    )
    return [
        {"id": i, "received_at": at, "topic": topic, "station": station, "reason": reason, "size": size,
         "payload": bytes(payload).decode("utf-8", "replace")}
        for i, at, topic, station, reason, size, payload in rows
    ]


def poison_hours(db: Database, scope: Scope, limit: int = 500) -> list[dict]:
    where, params = scope_sql(scope)
    rows = db.execute(
        f"""SELECT p.station, p.hour, p.error, p.attempts, p.failed_at FROM poison_hours p
            JOIN stations s ON s.id = p.station WHERE {where} ORDER BY p.failed_at DESC, p.station, p.hour LIMIT ?""",
        [*params, limit],
    )
    keys = ("station", "hour", "error", "attempts", "failed_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def alerts(
    db: Database, scope: Scope, *, now: datetime, state: str | None = None, overdue: bool | None = None,
    condition: str | None = None, limit: int = 1000,
) -> list[dict]:
    where, params = scope_sql(scope)
    return lifecycle.list_alerts(
        db, now=now, where=where, params=params, state=state, overdue=overdue, condition=condition, limit=limit
    )


def summary(db: Database, station: str, *, now: datetime, start: str | None = None, end: str | None = None) -> dict:
    """One station's figures over a window of whole hours, as one: the hours from the one holding ``start``
    up to the one holding ``end`` (excluded), by default the 7 days up to the end of the current hour.

    Percentiles come from the window's merged histograms (also returned), so a page's headline figures and
    its distribution chart are the same visits; ``greeted`` and ``greet_judged`` say how many they are.
    """
    end_hour = parse_ts(end).replace(minute=0, second=0, microsecond=0) if end else (
        now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
    start_hour = parse_ts(start).replace(minute=0, second=0, microsecond=0) if start else end_hour - SUMMARY_WINDOW
    rows = [dict(zip(ROLLUP_COLUMNS, row, strict=True)) for row in rollup_rows(
        db, Scope(station=station), bucket="hour", start=format_ts(start_hour), end=format_ts(end_hour))]
    merged = merge(rows)
    shown = figures(merged)
    shown["coverage"]["poisoned_hours"] = db.execute(
        "SELECT count(*) FROM poison_hours WHERE station = ? AND hour >= ? AND hour < ?",
        [station, format_ts(start_hour)[:13], format_ts(end_hour)[:13]],
    ).fetchone()[0]
    return {
        "station": station, "start": format_ts(start_hour), "end": format_ts(max(start_hour, end_hour)), "hours": len(rows),
        **shown,
        "greeted": sum(merged["greet_hist"].values()), "greet_judged": int(merged["greet_eligible"]),
        "greet_hist": merged["greet_hist"], "dwell_hist": merged["dwell_hist"],
    }


def metrics(db: Database, scope: Scope, *, bucket: str, start: str | None, end: str | None) -> list[dict]:
    """Figures per bucket, merged over the stations in ``scope``."""
    return rollups.metrics(db, bucket=bucket, scope=scope_sql(scope), start=start, end=end)


def rankings(
    db: Database, scope: Scope, period: ranking.Period, now: datetime, settings: ScoreSettings
) -> list[dict]:
    """Ranks among the stations in ``scope``."""
    return ranking.rankings(db, period, now, settings, scope=scope_sql(scope, id_column="id", region_column="region"))


def event_rows(
    db: Database, scope: Scope, *, kind: str | None, start: str | None, end: str | None
) -> Iterator[tuple]:
    """Raw events (``EVENT_COLUMNS``) of the stations in ``scope``, by station, time and sequence."""
    where, params = scope_sql(scope)
    clauses = [f"e.station IN (SELECT s.id FROM stations s WHERE {where})"]
    for clause, value in (("e.kind = ?", kind), ("e.ts >= ?", start), ("e.ts < ?", end)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return iter(db.execute(
        f"SELECT {', '.join('e.' + c for c in EVENT_COLUMNS)} FROM events e "
        f"WHERE {' AND '.join(clauses)} ORDER BY e.station, e.ts, e.seq", params,
    ).fetchall())


def rollup_rows(
    db: Database, scope: Scope, *, bucket: str, start: str | None, end: str | None
) -> Iterator[tuple]:
    """Stored rollup rows (``ROLLUP_COLUMNS``) of one period (``hour`` or ``day``) for the stations in ``scope``."""
    where, params = scope_sql(scope)
    width = 13 if bucket == "hour" else 10
    clauses, params = ["r.period = ?", f"r.station IN (SELECT s.id FROM stations s WHERE {where})"], [bucket, *params]
    for clause, value in (("r.bucket >= ?", start), ("r.bucket < ?", end)):
        if value is not None:
            clauses.append(clause)
            params.append(value[:width])
    return iter(db.execute(
        f"SELECT {', '.join('r.' + c for c in ROLLUP_COLUMNS)} FROM rollups r "
        f"WHERE {' AND '.join(clauses)} ORDER BY r.station, r.bucket", params,
    ).fetchall())
