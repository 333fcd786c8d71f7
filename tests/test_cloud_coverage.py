"""Coverage counts the time a station's edge was running, not only the time its link was up:
what the outbox replays after a 4G outage was measured, and HQ must not call it missing."""

from datetime import UTC, datetime

from cloud.config import GoalSettings
from cloud.ingest import Ingestor
from cloud.rollups import metrics, run_rollups
from cloud.store import open_db
from forecourt.protocol import Health, Status, format_ts
from tests.cloud_kit import incoming, online


def at(hhmm: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-23T{hhmm}:00+00:00").astimezone(UTC)


def sample(hhmm: str, uptime_s: float) -> Health:
    return Health(id=f"h{hhmm.replace(':', '')}abcdef", station="oslo-1", ts=format_ts(at(hhmm)), version="1.0",
                  uptime_s=uptime_s)


def online_minutes(database, replayed: list[Health]) -> list[float]:
    db = open_db(database)
    ingestor = Ingestor(db)
    # Started 06:00 and connected; the link dies at 07:00 (last will) and comes back at 09:00.
    ingestor.store([incoming(online(), "oslo-1")], now=at("06:00"))
    ingestor.store([incoming(Status(state="offline"), "oslo-1")], now=at("07:00"))
    ingestor.store([incoming(online(), "oslo-1")], now=at("09:00"))
    ingestor.store([incoming(h) for h in replayed], now=at("09:01"))  # the outbox's backlog
    run_rollups(db, at("10:00"), GoalSettings())
    rows = metrics(db, bucket="hour", station="oslo-1", start=format_ts(at("06:00")), end=format_ts(at("10:00")))
    by_hour = {row["bucket"][11:13]: row["coverage"]["online_min"] for row in rows}
    return [by_hour.get(hour, 0.0) for hour in ("06", "07", "08", "09")]  # an hour with nothing has no row


def test_replayed_health_covers_the_hours_the_link_was_down(database):
    replayed = [sample("07:30", 5400), sample("08:10", 7800), sample("09:00", 10800)]
    assert online_minutes(database, replayed) == [60.0, 60.0, 60.0, 60.0]


def test_without_health_the_outage_is_uncovered(database):
    assert online_minutes(database, []) == [60.0, 0.0, 0.0, 60.0]


def test_a_restart_covers_only_since_it(database):
    # The edge restarted at 08:30 (uptime 15 min at 08:45): 07:00-08:30 stays uncovered.
    assert online_minutes(database, [sample("08:45", 900)]) == [60.0, 0.0, 15.0, 60.0]
