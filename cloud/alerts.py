"""Alert lifecycle: open -> acknowledged -> resolved, with who, when and a comment, and deadlines.

Deadlines follow the mystery-shopper rules HQ already works by: an answer to bad ratings is due
within 24 hours; every other finding must be rectified within 3 working days, counted in the station's
time zone with its weekend and its region's public holidays (the follow-ups' calendar,
``cloud.followups.Calendar``). An alert is overdue while it is not resolved and its deadline has passed.
The rules that open alerts are in cloud/rules.py.

Apart from that lifecycle, an alert that follows one the station raises (restroom overdue, a stuck
button: ``cloud.rules.EDGE_RULES``) has a *condition*: ``active`` until the station reports it gone
(``cleared_at``: the restroom was cleaned) and ``cleared`` after. A cleared alert stays open, acknowledged
or resolved as people leave it, so it is told apart rather than closed. HQ's own findings (a window's bad
ratings or greetings, an outage, a sequence gap) have no condition of the station's to clear: ``finding``.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cloud.config import AlertSettings
from cloud.database import Database
from cloud.followups import Calendar, due_after_working_days
from cloud.store import writing
from forecourt.errors import ForecourtError
from forecourt.protocol import format_ts

ANSWER_RULES = frozenset({"bad_rating_rate"})
UTC_WEEKDAYS = Calendar(UTC)  # a station the registry knows nothing about: Monday to Friday in UTC
STATES = ("open", "acknowledged", "resolved")
CONDITIONS = ("active", "cleared", "finding")
_COLUMNS = (
    "id, station, rule, subject, message, opened_at, due_at, state, acknowledged_by, acknowledged_at, "
    "resolved_by, resolved_at, comment, ack_comment, cleared_at"
)


class AlertStateError(ForecourtError, ValueError):
    """An alert cannot make the requested transition (e.g. resolving it twice)."""


@dataclass(frozen=True)
class NewAlert:
    station: str
    rule: str
    subject: str
    episode: str
    message: str
    opened_at: datetime


def due_at(rule: str, opened_at: datetime, settings: AlertSettings, calendar: Calendar = UTC_WEEKDAYS) -> datetime:
    if rule in ANSWER_RULES:
        return opened_at + timedelta(hours=settings.answer_due_h)
    return due_after_working_days(opened_at, settings.rectify_working_days, calendar)


def open_alerts(
    db: Database, alerts: list[NewAlert], settings: AlertSettings, calendars: Mapping[str, Calendar] | None = None
) -> int:
    """Open each alert unless its (station, rule, subject, episode) was opened before; returns how many opened.
    ``calendars`` gives each station's working days (default: Monday to Friday in UTC)."""
    opened = 0
    for alert in alerts:
        calendar = (calendars or {}).get(alert.station, UTC_WEEKDAYS)
        cursor = db.execute(
            """INSERT INTO alerts (station, rule, subject, episode, message, opened_at, due_at)
               VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
            (alert.station, alert.rule, alert.subject, alert.episode, alert.message, format_ts(alert.opened_at),
             format_ts(due_at(alert.rule, alert.opened_at, settings, calendar))),
        )
        opened += cursor.rowcount
    return opened


def alert_dict(row: tuple, now: datetime) -> dict:
    record = dict(zip([c.strip() for c in _COLUMNS.split(",")], row, strict=True))
    record["overdue"] = record["state"] != "resolved" and record["due_at"] < format_ts(now)
    record["condition"] = "cleared" if record["cleared_at"] else "active" if record["rule"] in _edge_rules() else "finding"
    return record


def _edge_rules() -> tuple[str, ...]:
    from cloud.rules import EDGE_RULES  # here: cloud.rules opens alerts through this module

    return tuple(EDGE_RULES)


def list_alerts(
    db: Database, *, now: datetime, where: str = "1 = 1", params: list | None = None, state: str | None = None,
    station: str | None = None, overdue: bool | None = None, condition: str | None = None, limit: int = 1000,
) -> list[dict]:
    """Alerts joined to their station, newest first; ``where`` is a scope fragment over ``stations s``.
    ``condition`` is ``active``, ``cleared`` or ``finding`` (see the module's docstring)."""
    clauses, args = [where], list(params or [])
    if state:
        clauses.append("a.state = ?")
        args.append(state)
    if station:
        clauses.append("a.station = ?")
        args.append(station)
    if overdue is not None:
        clauses.append("(a.state != 'resolved' AND a.due_at < ?)" if overdue else "NOT (a.state != 'resolved' AND a.due_at < ?)")
        args.append(format_ts(now))
    if condition is not None:
        if condition not in CONDITIONS:
            raise ValueError(f"condition {condition!r} is not one of {', '.join(CONDITIONS)}")
        rules = ", ".join("?" * len(_edge_rules()))
        clauses.append({
            "cleared": "a.cleared_at IS NOT NULL",
            "active": f"a.cleared_at IS NULL AND a.rule IN ({rules})",
            "finding": f"a.cleared_at IS NULL AND a.rule NOT IN ({rules})",
        }[condition])
        args += [] if condition == "cleared" else list(_edge_rules())
    columns = ", ".join(f"a.{c.strip()}" for c in _COLUMNS.split(","))
    rows = db.execute(
        f"""SELECT {columns} FROM alerts a JOIN stations s ON s.id = a.station
            WHERE {' AND '.join(clauses)} ORDER BY a.opened_at DESC, a.id DESC LIMIT ?""",
        [*args, limit],
    ).fetchall()
    return [alert_dict(row, now) for row in rows]


def get_alert(db: Database, alert_id: int, now: datetime) -> dict | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", [alert_id]).fetchone()
    return alert_dict(row, now) if row else None


def acknowledge(db: Database, alert_id: int, *, by: str, comment: str, now: datetime) -> dict:
    with writing(db):
        cursor = db.execute(
            """UPDATE alerts SET state = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?, ack_comment = ?,
               comment = ? WHERE id = ? AND state = 'open'""",
            [by, format_ts(now), comment, comment, alert_id],
        )
    return _after(db, alert_id, cursor.rowcount, "acknowledged", now)


def resolve(db: Database, alert_id: int, *, by: str, comment: str, now: datetime) -> dict:
    with writing(db):
        cursor = db.execute(
            """UPDATE alerts SET state = 'resolved', resolved_by = ?, resolved_at = ?, comment = ?
               WHERE id = ? AND state != 'resolved'""",
            [by, format_ts(now), comment, alert_id],
        )
    return _after(db, alert_id, cursor.rowcount, "resolved", now)


def _after(db: Database, alert_id: int, changed: int, target: str, now: datetime) -> dict:
    alert = get_alert(db, alert_id, now)
    if alert is None:
        raise KeyError(alert_id)
    if not changed:
        raise AlertStateError(f"alert {alert_id} is {alert['state']}; it cannot become {target}")
    return alert


def open_alert_counts(db: Database) -> dict[str, int]:
    return dict(db.execute("SELECT station, count(*) FROM alerts WHERE state != 'resolved' GROUP BY station").fetchall())
