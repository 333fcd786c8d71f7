"""Alert rules: which alerts should be open at ``now``, judged from events, rollups, status and gaps.

Each finding has an *episode* (the station alert's event id, the window start, the time the station
went offline, the first missing seq) so evaluating again never opens the same alert twice, and an
alert resolved by a person is not reopened for the same episode.

Window rules (bad ratings, greeting) use fixed windows of N hours aligned on midnight UTC; the current
and the previous window are judged each run, so a window's final figures are judged once it is over.
"""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import cast

from cloud.alerts import NewAlert, open_alerts
from cloud.config import AlertSettings, FollowupSettings
from cloud.database import Database
from cloud.events import stored_event
from cloud.followup_records import station_calendars
from cloud.store import writing
from forecourt.protocol import Alert, StationAlert, format_ts, parse_ts

EDGE_LOOKBACK = timedelta(days=7)


class Rule(StrEnum):
    """The collector's alert rules, listed once: the ``rule`` of every row in ``alerts``."""

    RESTROOM_OVERDUE = "restroom_overdue"
    STUCK_BUTTON = "stuck_button"
    BAD_RATING_RATE = "bad_rating_rate"
    GREETING_GOAL = "greeting_goal"
    STATION_OFFLINE = "station_offline"
    SEQ_GAP = "seq_gap"


# Rules that follow an alert the station raises; the station's clearing marks them cleared.
EDGE_RULES: dict[Rule, StationAlert] = {
    Rule.RESTROOM_OVERDUE: StationAlert.RESTROOM_OVERDUE, Rule.STUCK_BUTTON: StationAlert.KIOSK_BUTTON_STUCK,
}


def _latest_edge_alerts(db: Database, name: StationAlert, now: datetime) -> list[tuple[str, Alert]]:
    """The latest ``name`` alert event per (station, subject) of the last week, if it is still open."""
    latest: dict[tuple[str, str], Alert] = {}
    for station, payload in db.execute(
        """SELECT station, payload FROM events WHERE kind = 'alert' AND ts >= ?
           AND (payload ->> 'alert') = ? ORDER BY ts, seq""",
        [format_ts(now - EDGE_LOOKBACK), name],
    ):
        event = cast(Alert, stored_event("alert", payload))
        latest[(station, event.subject or "")] = event
    return [(station, event) for (station, _), event in latest.items() if event.state == "open"]


def restroom_overdue(db: Database, s: AlertSettings, now: datetime) -> list[NewAlert]:
    grace = timedelta(minutes=s.restroom_grace_min)
    out = []
    for station, event in _latest_edge_alerts(db, EDGE_RULES[Rule.RESTROOM_OVERDUE], now):
        if now - parse_ts(event.ts) >= grace:
            subject = event.subject or ""
            out.append(NewAlert(station, Rule.RESTROOM_OVERDUE, subject, event.id,
                                f"restroom {subject} overdue for more than {s.restroom_grace_min:g} min",
                                parse_ts(event.ts) + grace))
    return out


def stuck_button(db: Database, s: AlertSettings, now: datetime) -> list[NewAlert]:
    return [
        NewAlert(station, Rule.STUCK_BUTTON, event.subject or "", event.id,
                 event.message or f"kiosk {event.subject} button stuck", parse_ts(event.ts))
        for station, event in _latest_edge_alerts(db, EDGE_RULES[Rule.STUCK_BUTTON], now)
    ]


def _windows(now: datetime, hours: int) -> list[tuple[datetime, datetime]]:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    current = midnight + timedelta(hours=hours * ((now - midnight) // timedelta(hours=hours)))
    return [(current - timedelta(hours=hours), current), (current, current + timedelta(hours=hours))]


def _window_sums(db: Database, start: datetime, end: datetime, num: str, den: str, minimum: int):
    return db.execute(
        f"""SELECT station, SUM({num}), SUM({den}) FROM rollups WHERE period = 'hour' AND bucket >= ? AND bucket < ?
            GROUP BY station HAVING SUM({den}) >= ?""",
        [format_ts(start)[:13], format_ts(end)[:13], minimum],
    ).fetchall()


def bad_rating_rate(db: Database, s: AlertSettings, now: datetime) -> list[NewAlert]:
    out = []
    for start, end in _windows(now, s.bad_rate_window_h):
        for station, bad, total in _window_sums(db, start, end, "bad_n", "ratings_n", s.bad_rate_min_ratings):
            if bad / total > s.bad_rate_line:
                out.append(NewAlert(station, Rule.BAD_RATING_RATE, "", format_ts(start),
                                    f"{bad:.0f} of {total:.0f} ratings bad ({bad / total:.0%} > {s.bad_rate_line:.0%}) "
                                    f"{format_ts(start)[11:16]}-{format_ts(end)[11:16]} UTC", min(now, end)))
    return out


def greeting(db: Database, s: AlertSettings, now: datetime) -> list[NewAlert]:
    out = []
    for start, end in _windows(now, s.greet_window_h):
        for station, met, total in _window_sums(db, start, end, "greet_within_goal", "greet_eligible", s.greet_min_visits):
            if met / total < s.greet_line:
                out.append(NewAlert(station, Rule.GREETING_GOAL, "", format_ts(start),
                                    f"{met:.0f} of {total:.0f} cars greeted within the goal "
                                    f"({met / total:.0%} < {s.greet_line:.0%})", min(now, end)))
    return out


def offline(db: Database, s: AlertSettings, now: datetime) -> list[NewAlert]:
    after = timedelta(minutes=s.offline_after_min)
    return [
        NewAlert(station, Rule.STATION_OFFLINE, "", since, f"station offline since {since}", parse_ts(since) + after)
        for station, since in db.execute(
            "SELECT id, status_at FROM stations WHERE status = 'offline' AND status_at < ?", [format_ts(now - after)]
        )
    ]


def seq_gap(db: Database, s: AlertSettings, now: datetime) -> list[NewAlert]:
    grace = timedelta(minutes=s.seq_gap_grace_min)
    return [
        NewAlert(station, Rule.SEQ_GAP, f"seq {first}-{last}", str(first),
                 f"{last - first + 1} event(s) missing: seq {first}..{last}", parse_ts(detected) + grace)
        for station, first, last, detected in db.execute(
            "SELECT station, first_seq, last_seq, detected_at FROM seq_gaps WHERE detected_at <= ?",
            [format_ts(now - grace)],
        )
    ]


RULES = (restroom_overdue, bad_rating_rate, greeting, offline, seq_gap, stuck_button)


def evaluate(db: Database, settings: AlertSettings, now: datetime) -> list[NewAlert]:
    return [alert for rule in RULES for alert in rule(db, settings, now)]


def run_rules(
    db: Database, settings: AlertSettings, now: datetime, calendars: FollowupSettings | None = None
) -> int:
    """Open what the rules find and mark alerts whose edge condition cleared; returns how many opened.
    Deadlines count each station's working days as ``calendars`` says (time zones and public holidays)."""
    found = evaluate(db, settings, now)
    where = station_calendars(db, {a.station for a in found}, calendars or FollowupSettings()) if found else {}
    with writing(db):
        opened = open_alerts(db, found, settings, {station: w.calendar for station, w in where.items()})
        _mark_cleared(db)
    return opened


def _mark_cleared(db: Database) -> None:
    """An edge-driven alert whose condition the station reported cleared gets ``cleared_at`` (people still resolve it)."""
    for alert_id, episode, station in db.execute(
        f"""SELECT id, episode, station FROM alerts WHERE cleared_at IS NULL AND state != 'resolved'
            AND rule IN ({', '.join('?' * len(EDGE_RULES))})""",
        list(EDGE_RULES),
    ).fetchall():
        row = db.execute(
            """SELECT min(e2.ts) FROM events e1 JOIN events e2 ON e2.station = e1.station AND e2.kind = 'alert'
               AND e2.ts >= e1.ts AND (e2.payload ->> 'state') = 'cleared'
               AND (e2.payload ->> 'alert') = (e1.payload ->> 'alert')
               AND coalesce((e2.payload ->> 'subject'), '') = coalesce((e1.payload ->> 'subject'), '')
               WHERE e1.id = ? AND e1.station = ?""",
            [episode, station],
        ).fetchone()
        if row and row[0]:
            db.execute("UPDATE alerts SET cleared_at = ? WHERE id = ?", [row[0], alert_id])
