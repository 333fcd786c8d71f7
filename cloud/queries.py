"""Read-side queries over stations, events and dead letters, shaped as the API returns them."""

import json
from datetime import datetime, timedelta

from sqlite_utils import Database

from cloud.alerts import open_alert_counts
from cloud.ingest import event_dict
from forecourt.protocol import format_ts, parse_ts

_STATION_COLUMNS = "id, name, region, status, last_seen, version, auto_registered, status_at"
RESTROOM_LOOKBACK = timedelta(days=90)


def station_rows(db: Database, where: str = "1", params: list | None = None) -> list[dict]:
    counts = open_alert_counts(db)
    rows = db.execute(f"SELECT {_STATION_COLUMNS} FROM stations WHERE {where} ORDER BY region, id", params or [])
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
            """SELECT json_extract(payload, '$.restroom'), max(ts) FROM events
               WHERE station = ? AND kind = 'cleaning' AND ts >= ? AND json_extract(payload, '$.flag') IS NULL
               GROUP BY 1""",
            [station, since],
        ).fetchall()
    )
    overdue = {
        subject: state == "open"
        for subject, state, _ in db.execute(
            """SELECT json_extract(payload, '$.subject'), json_extract(payload, '$.state'), max(ts) FROM events
               WHERE station = ? AND kind = 'alert' AND ts >= ? AND json_extract(payload, '$.alert') = 'restroom_overdue'
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
    (record,) = station_rows(db, "id = ?", [station])
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


def dead_letters(db: Database, where: str = "1", params: list | None = None, limit: int = 500) -> list[dict]:
    rows = db.execute(
        f"""SELECT d.id, d.received_at, d.topic, d.station, d.reason, d.size, d.payload FROM dead_letters d
            LEFT JOIN stations s ON s.id = d.station WHERE {where} ORDER BY d.id DESC LIMIT ?""",
        [*(params or []), limit],
    )
    return [
        {"id": i, "received_at": at, "topic": topic, "station": station, "reason": reason, "size": size,
         "payload": bytes(payload).decode("utf-8", "replace")}
        for i, at, topic, station, reason, size, payload in rows
    ]
