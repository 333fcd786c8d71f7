"""Follow-up items in the database: opened from newly received bad ratings, escalated when a deadline
passes, listed within a caller's scope, acknowledged and closed with a note. What counts as bad, the
deadlines and who is told are pure functions in cloud/followups.py; this module only reads and writes.

The job reads ratings by when the collector received them, after a mark it keeps in ``job_marks``, so a
rating replayed from a station's outbox days after it was given still opens (or joins) its item, and a
rating is listed by at most one item (``followup_ratings`` is keyed by its event id): running the job
again, or twice at once, changes nothing.
"""

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from cloud import followups as rules
from cloud.auth import Scope
from cloud.config import FollowupSettings
from cloud.database import Database
from cloud.events import stored_event
from cloud.queries import scope_sql
from cloud.store import writing
from forecourt.errors import ForecourtError
from forecourt.protocol import Rating, format_ts, parse_ts

log = logging.getLogger("forecourt.collector.followups")
MARK = "followups.received_at"
# Ingest stamps a batch's received_at before it commits; a batch stamped earlier than one the job has
# already read may still be committing, so each run looks this far behind its mark (duplicates are
# skipped by the event-id key, so looking back costs only the re-reading).
RECEIVE_SLACK = timedelta(minutes=5)
_ITEM_COLUMNS = (
    "id", "station", "day", "opened_at", "follow_up_due", "rectify_due", "timezone", "calendar", "state",
    "acknowledged_by", "acknowledged_at", "ack_note", "closed_by", "closed_at", "close_note",
)
# Unmet at ``now`` with a deadline behind it: the follow-up until acknowledged, the rectification until closed.
_OVERDUE_SQL = "(f.state != 'closed' AND ((f.acknowledged_at IS NULL AND f.follow_up_due < ?) OR f.rectify_due < ?))"


class FollowupStateError(ForecourtError, ValueError):
    """A follow-up item cannot make the requested transition (e.g. closing it twice)."""


@dataclass(frozen=True)
class StationCalendar:
    """What an item records of where its working days were counted, and the calendar itself."""

    timezone: str
    code: str  # the holiday calendar, "" for none
    calendar: rules.Calendar


@dataclass(frozen=True)
class FollowupRun:
    opened: int  # new items
    listed: int  # bad ratings added to items, new or existing
    escalated: int  # deadlines newly escalated


def run_followups(db: Database, settings: FollowupSettings, now: datetime) -> FollowupRun:
    """Open or extend items for the bad ratings received since the last run, then escalate what is overdue."""
    with writing(db):
        opened, listed = _list_new_bad_ratings(db, settings, now)
        escalated = _escalate(db, now)
    return FollowupRun(opened, listed, escalated)


def _list_new_bad_ratings(db: Database, settings: FollowupSettings, now: datetime) -> tuple[int, int]:
    mark = db.execute("SELECT value FROM job_marks WHERE name = ?", [MARK]).fetchone()
    since = parse_ts(mark[0]) - RECEIVE_SLACK if mark else now - timedelta(days=settings.first_run_days)
    rows = db.execute(
        """SELECT e.id, e.station, e.received_at, e.payload FROM events e
           WHERE e.kind = 'rating' AND e.received_at >= ?
           AND NOT EXISTS (SELECT 1 FROM followup_ratings f WHERE f.event_id = e.id)""",
        [format_ts(since)],
    ).fetchall()
    limits = settings.bad_at_most.by_scale()
    bad = []
    for event_id, station, _, payload in rows:
        try:
            rating = cast(Rating, stored_event("rating", payload))
        except ValueError as err:  # one unreadable row must not stop every later rating's follow-up
            log.error("follow-ups: rating %s of %s skipped: %s", event_id, station, err)
            continue
        if rules.is_bad(rating.score, rating.scale, limits):
            bad.append(rules.BadRating(event_id, station, parse_ts(rating.ts), rating.score, rating.scale,
                                       rating.kiosk, rating.reason, rating.flag))
    newest = max([mark[0] if mark else format_ts(since), *(r[2] for r in rows)])
    db.execute(
        "INSERT INTO job_marks (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [MARK, newest],
    )
    if not bad:
        return 0, 0
    calendars = station_calendars(db, {r.station for r in bad}, settings)
    opened = 0
    for (station, day), ratings in rules.group_by_station_day(bad, lambda s: calendars[s].calendar.tz).items():
        opened += _add_to_item(db, station, day.isoformat(), ratings, calendars[station], settings)
    return opened, len(bad)


def station_calendars(db: Database, stations: set[str], settings: FollowupSettings) -> dict[str, StationCalendar]:
    """Each station's time zone (the registry's, else the default) and its region's holiday calendar."""
    marks = ", ".join("?" * len(stations))
    out = {}
    for station, region, tz_name in db.execute(
        f"SELECT id, region, timezone FROM stations WHERE id IN ({marks})", sorted(stations)
    ):
        tz_name = tz_name or settings.timezone
        code = rules.calendar_code(region, settings.holidays)
        out[station] = StationCalendar(tz_name, code, rules.station_calendar(tz_name, code))
    return out


def _add_to_item(
    db: Database, station: str, day: str, ratings: list[rules.BadRating], where: StationCalendar,
    settings: FollowupSettings,
) -> int:
    """List ``ratings`` (one station-day, in time order) on the day's item that is not closed, or open one;
    returns 1 when an item was opened. An earlier rating than the item's first moves its deadlines earlier."""
    first = ratings[0].ts
    item = db.execute(
        "SELECT id, opened_at FROM followups WHERE station = ? AND day = ? AND state != 'closed' ORDER BY id DESC LIMIT 1",
        [station, day],
    ).fetchone()
    due = rules.deadlines(first, where.calendar, follow_up_h=settings.follow_up_h,
                          rectify_days=settings.rectify_working_days)
    if item is None:
        item_id = db.execute(
            """INSERT INTO followups (station, day, opened_at, follow_up_due, rectify_due, timezone, calendar)
               VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id""",
            [station, day, format_ts(first), format_ts(due.follow_up), format_ts(due.rectify), where.timezone, where.code],
        ).fetchone()[0]
    else:
        item_id = item[0]
        if format_ts(first) < item[1]:
            db.execute(
                "UPDATE followups SET opened_at = ?, follow_up_due = ?, rectify_due = ? WHERE id = ?",
                [format_ts(first), format_ts(due.follow_up), format_ts(due.rectify), item_id],
            )
    db.executemany(
        """INSERT INTO followup_ratings (event_id, followup, ts, score, scale, kiosk, reason, flag)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
        [(r.event_id, item_id, format_ts(r.ts), r.score, r.scale, r.kiosk, r.reason, r.flag) for r in ratings],
    )
    return int(item is None)


def _escalate(db: Database, now: datetime) -> int:
    """Record, once per item and stage, who is told that a deadline passed unmet."""
    users: dict[str, list[str]] = {}
    for name, role in db.execute("SELECT name, role FROM users ORDER BY name"):
        users.setdefault(role, []).append(name)
    at = format_ts(now)
    escalated = 0
    for item_id, region, follow_up_due, rectify_due, acknowledged_at in db.execute(
        f"""SELECT f.id, s.region, f.follow_up_due, f.rectify_due, f.acknowledged_at FROM followups f
            JOIN stations s ON s.id = f.station WHERE {_OVERDUE_SQL}""",
        [at, at],
    ).fetchall():
        chain = rules.escalation_chain(region, users)
        for stage, due, met in (("follow_up", follow_up_due, acknowledged_at), ("rectify", rectify_due, None)):
            if rules.stage_status(parse_ts(due), parse_ts(met) if met else None, now) != "overdue":
                continue
            told = rules.told_for(stage, chain)
            escalated += db.execute(
                """INSERT INTO followup_escalations (followup, stage, due_at, escalated_at, told, users)
                   VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
                [item_id, stage, due, at, told, json.dumps(users.get(told, []))],
            ).rowcount
    return escalated


def list_followups(
    db: Database, scope: Scope, *, now: datetime, state: str | None = None, station: str | None = None,
    overdue: bool | None = None, escalated: bool | None = None, limit: int = 500,
) -> list[dict]:
    """Items within ``scope``, newest first, each with its ratings, deadlines and escalations."""
    where, params = scope_sql(scope)
    clauses, args = [where], list(params)
    at = format_ts(now)
    escalations = "EXISTS (SELECT 1 FROM followup_escalations x WHERE x.followup = f.id)"
    for wanted, clause, values in (
        (state, "f.state = ?", [state]), (station, "f.station = ?", [station]),
        (overdue, _OVERDUE_SQL if overdue else f"NOT {_OVERDUE_SQL}", [at, at]),
        (escalated, escalations if escalated else f"NOT {escalations}", []),
    ):
        if wanted is not None:
            clauses.append(clause)
            args += values
    return _select(db, " AND ".join(clauses), args, now, limit)


def get_followup(db: Database, item_id: int, now: datetime) -> dict | None:
    found = _select(db, "f.id = ?", [item_id], now, 1)
    return found[0] if found else None


def _select(db: Database, where: str, args: list, now: datetime, limit: int) -> list[dict]:
    columns = ", ".join(f"f.{c}" for c in _ITEM_COLUMNS)
    rows = db.execute(
        f"""SELECT {columns}, s.name, s.region FROM followups f JOIN stations s ON s.id = f.station
            WHERE {where} ORDER BY f.opened_at DESC, f.id DESC LIMIT ?""",
        [*args, limit],
    ).fetchall()
    return _records(db, rows, now)


def _records(db: Database, rows: list[tuple], now: datetime) -> list[dict]:
    ids = [row[0] for row in rows]
    if not ids:
        return []
    marks = ", ".join("?" * len(ids))
    ratings: dict[int, list[dict]] = {}
    for item_id, event_id, ts, score, scale, kiosk, reason, flag in db.execute(
        f"""SELECT followup, event_id, ts, score, scale, kiosk, reason, flag FROM followup_ratings
            WHERE followup IN ({marks}) ORDER BY ts, event_id""", ids,
    ):
        ratings.setdefault(item_id, []).append({"event_id": event_id, "ts": ts, "score": score, "scale": scale,
                                                "kiosk": kiosk, "reason": reason, "flag": flag})
    escalations: dict[int, list[dict]] = {}
    for item_id, stage, due_at, escalated_at, told, users in db.execute(
        f"""SELECT followup, stage, due_at, escalated_at, told, users FROM followup_escalations
            WHERE followup IN ({marks}) ORDER BY escalated_at, stage""", ids,
    ):
        escalations.setdefault(item_id, []).append(
            {"stage": stage, "due_at": due_at, "escalated_at": escalated_at, "told": told, "users": json.loads(users)})
    return [_record(row, ratings.get(row[0], []), escalations.get(row[0], []), now) for row in rows]


def _record(row: tuple, ratings: list[dict], escalations: list[dict], now: datetime) -> dict:
    item = dict(zip((*_ITEM_COLUMNS, "name", "region"), row, strict=True))
    # Closing an item follows it up too: nobody closes what they have not looked at.
    followed_up = item["acknowledged_at"] or item["closed_at"]
    stages = {
        "follow_up": _stage(item.pop("follow_up_due"), followed_up, now),
        "rectify": _stage(item.pop("rectify_due"), item["closed_at"], now),
    }
    return {
        **item, **stages, "ratings": ratings, "escalations": escalations,
        "overdue": any(stage["status"] == "overdue" for stage in stages.values()),
    }


def _stage(due_at: str, met_at: str | None, now: datetime) -> dict:
    status = rules.stage_status(parse_ts(due_at), parse_ts(met_at) if met_at else None, now)
    return {"due_at": due_at, "met_at": met_at, "status": status}


def acknowledge(db: Database, item_id: int, *, by: str, note: str, now: datetime) -> dict:
    """Someone has followed the item up (called the customer, looked at the restroom): who, when, what."""
    return _move(db, item_id, "acknowledged", "state = 'open'", now,
                 acknowledged_by=by, acknowledged_at=format_ts(now), ack_note=note)


def close(db: Database, item_id: int, *, by: str, note: str, now: datetime) -> dict:
    """The cause is rectified: ``note`` says what was done. Closing ends the item's tracking."""
    if not note.strip():
        raise FollowupStateError("closing a follow-up needs a note saying what was done")
    return _move(db, item_id, "closed", "state != 'closed'", now, closed_by=by, closed_at=format_ts(now), close_note=note)


def _move(db: Database, item_id: int, target: str, allowed: str, now: datetime, **record: str) -> dict:
    """Set ``state = target`` and the ``record`` columns where the item's state is ``allowed``; the item
    as it is then, read in the same transaction. KeyError for no item, FollowupStateError for a refusal."""
    assignments = ", ".join(f"{column} = ?" for column in record)
    with writing(db):
        moved = db.execute(
            f"UPDATE followups SET state = ?, {assignments} WHERE id = ? AND {allowed}",
            [target, *record.values(), item_id],
        ).rowcount
        item = get_followup(db, item_id, now)
    if item is None:
        raise KeyError(item_id)
    if moved:
        return item
    raise FollowupStateError(f"follow-up {item_id} is {item['state']}; it cannot become {target}")
