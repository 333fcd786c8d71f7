"""An alert's rectification deadline counts the station's working days: its time zone and its region's
public holidays, the same calendar as the follow-ups (a real SQLite file, the rules as the job runs them)."""

from datetime import UTC, datetime

from cloud.config import CollectorConfig, FollowupSettings
from cloud.registry import import_stations, parse_csv
from cloud.rules import run_rules
from cloud.store import open_db

NOW = datetime(2026, 12, 23, 9, 0, tzinfo=UTC)  # a Wednesday; 09:00 UTC is 10:00 in Oslo


def _due_dates(database, followups: FollowupSettings | None) -> dict[str, str]:
    db = open_db(database)
    import_stations(db, parse_csv(
        "id,name,region,timezone\noslo-01,Oslo,norway/oslo,Europe/Oslo\nleeds-01,Leeds,uk/leeds,Europe/London\n"
    ), now=NOW)
    for station in ("oslo-01", "leeds-01"):  # a sequence gap found at 08:50, an alert after the 10 min grace
        db.execute("INSERT INTO seq_gaps (station, first_seq, last_seq, detected_at) VALUES (?, 5, 9, ?)",
                   [station, "2026-12-23T08:50:00.000Z"])
    assert run_rules(db, CollectorConfig().alerts, NOW, followups) == 2
    due = dict(db.execute("SELECT station, due_at FROM alerts WHERE rule = 'seq_gap'").fetchall())
    db.close()
    return due


def test_christmas_and_the_stations_own_holidays_move_an_alerts_deadline(database):
    calendars = FollowupSettings(holidays={"norway": "NO", "uk": "GB-ENG"})
    assert _due_dates(database, calendars) == {
        "oslo-01": "2026-12-29T09:00:00.000Z",  # 24 Dec works in Norway; 25 Dec and the weekend do not
        "leeds-01": "2026-12-30T09:00:00.000Z",  # 25 Dec and 28 Dec (Boxing Day's substitute) are holidays
    }


def test_without_holidays_only_the_weekend_is_skipped(database):
    assert _due_dates(database, None) == {"oslo-01": "2026-12-28T09:00:00.000Z", "leeds-01": "2026-12-28T09:00:00.000Z"}
