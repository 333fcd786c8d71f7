"""Rollups survive a poison hour: a station-hour whose recomputation raises is set aside with its error,
and every other dirty station-hour is still rolled up. Against a real SQLite file, with the bad rows put
in by SQL as an older collector (before the protocol's limits) could have stored them."""

import logging
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from cloud.config import GoalSettings
from cloud.database import StorageUnavailable, connect
from cloud.ingest import Ingestor
from cloud.rollups import RollupRun, metrics, roll_up, run_rollups
from cloud.store import open_db
from tests.cloud_kit import rating, store_at

NOW = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)
BROKEN = {"sqlite": '{"v":1,', "postgresql": '{"v":1}'}
ANCIENT = "0001-01-01T00:00:00.000Z"  # out of the protocol's range; the rollups' "start - 7 days" overflows on it


def _hours(db) -> list[tuple]:
    return db.execute(
        "SELECT station, bucket, ratings_n FROM rollups WHERE period = 'hour' ORDER BY station, bucket"
    ).fetchall()


def _poison(db) -> list[tuple]:
    return db.execute("SELECT station, hour, error, attempts FROM poison_hours ORDER BY station, hour").fetchall()


@pytest.fixture
def db(database):
    db = open_db(database)
    store_at(Ingestor(db), NOW, rating("a", 1, NOW - timedelta(hours=3), 5), rating("a", 2, NOW - timedelta(hours=2), 4),
             rating("b", 1, NOW - timedelta(hours=2), 1), rating("c", 1, NOW - timedelta(hours=2), 2))
    # A rating from year 1, with the dirty mark an older collector's ingest set for it.
    db.execute("INSERT INTO events (id, station, kind, ts, seq, received_at, payload) VALUES (?,?,?,?,?,?,?)",
               ["ancient-0001", "a", "rating", ANCIENT, 3, "2026-11-23T09:00:00.000Z",
                f'{{"v":1,"id":"ancient-0001","seq":3,"station":"a","ts":"{ANCIENT}","kind":"rating",'
                '"kiosk":"k1","score":5,"scale":5}'])
    db.execute("INSERT INTO dirty (station, hour) VALUES ('a', '0001-01-01T00')")
    # Station c's 10:00 shares its hour with b's, and holds a payload that is no rating: not JSON at all where the
    # engine lets that in (SQLite); PostgreSQL's json column refuses such text, so there it is JSON missing fields.
    db.execute("INSERT INTO events (id, station, kind, ts, seq, received_at, payload) VALUES (?,?,?,?,?,?,?)",
               ["broken-0001", "c", "rating", "2026-11-23T10:40:00.000Z", 2, "2026-11-23T10:40:00.000Z",
                BROKEN[db.dialect.name]])
    yield db
    db.close()


def test_a_poison_hour_is_set_aside_and_every_other_hour_is_rolled_up(db, caplog):
    assert len(db.execute("SELECT * FROM dirty").fetchall()) == 5

    with caplog.at_level(logging.ERROR, logger="forecourt.collector.rollups"):
        run = roll_up(db, NOW, GoalSettings())

    assert run == RollupRun(computed=3, poisoned=2)
    assert _hours(db) == [("a", "2026-11-23T09", 1), ("a", "2026-11-23T10", 1), ("b", "2026-11-23T10", 1)]
    assert db.execute("SELECT station, bucket, ratings_n FROM rollups WHERE period = 'day' ORDER BY station").fetchall() == [
        ("a", "2026-11-23", 2), ("b", "2026-11-23", 1)]
    poison = _poison(db)
    assert [(s, h, n) for s, h, _, n in poison] == [("a", "0001-01-01T00", 1), ("c", "2026-11-23T10", 1)]
    assert poison[0][2].startswith("ValueError: stored rating event no longer validates: field 'ts': 0001-01-01")
    why = {"sqlite": "Invalid JSON", "postgresql": "missing field 'id'"}[db.dialect.name]
    assert poison[1][2].startswith(f"ValueError: stored rating event no longer validates: {why}"), poison[1][2]
    assert db.execute("SELECT * FROM dirty").fetchall() == []  # settled: rolled up or set aside
    assert "station a hour 0001-01-01T00 set aside in poison_hours: ValueError: stored rating" in caplog.text
    assert "2 station-hour(s) set aside in poison_hours; 3 rolled up" in caplog.text

    assert roll_up(db, NOW, GoalSettings()) == RollupRun(0, 0)  # not retried on every run


def test_a_new_mark_retries_a_poison_hour_and_a_success_clears_it(db):
    run_rollups(db, NOW, GoalSettings())
    db.execute("INSERT INTO dirty (station, hour) VALUES ('c', '2026-11-23T10')")  # e.g. a late event arrived
    assert roll_up(db, NOW, GoalSettings()) == RollupRun(0, 1)
    assert [(s, h, n) for s, h, _, n in _poison(db)] == [("a", "0001-01-01T00", 1), ("c", "2026-11-23T10", 2)]

    db.execute("DELETE FROM events WHERE id = 'broken-0001'")  # the operator repairs the row and re-marks
    db.execute("INSERT INTO dirty (station, hour) SELECT station, hour FROM poison_hours WHERE station = 'c'")
    assert roll_up(db, NOW, GoalSettings()) == RollupRun(1, 0)
    assert [(s, h) for s, h, _, _ in _poison(db)] == [("a", "0001-01-01T00")]
    assert ("c", "2026-11-23T10", 1) in _hours(db)


def test_a_failure_after_the_hour_row_was_written_leaves_nothing_half_done(db):
    """The hour, day and month rows of one station-hour are written together or not at all."""
    columns = "station, period, bucket, complete, excluded"
    db.execute(f"INSERT INTO rollups ({columns}) VALUES ('b', 'month', '2026-11', 0, 'not json')")  # corrupt
    run = roll_up(db, NOW, GoalSettings())
    assert run.poisoned == 3
    assert ("b", "2026-11-23T10", 1) not in _hours(db)  # its hour and day rows were rolled back with it
    assert db.execute("SELECT period FROM rollups WHERE station = 'b'").fetchall() == [("month",)]
    assert ("a", "2026-11-23T09", 1) in _hours(db)


def test_a_database_fault_ends_the_run_and_keeps_every_mark(db, database):
    """A locked database is not the hour's fault: nothing is set aside and the next run does the work."""
    other = connect(database)
    if db.dialect.name == "sqlite":
        other.execute("BEGIN EXCLUSIVE")
        db.execute("PRAGMA busy_timeout = 50")
    else:
        other.execute("BEGIN")
        other.execute("LOCK TABLE rollups IN ACCESS EXCLUSIVE MODE")
        db.execute("SET lock_timeout = '50ms'")
    try:
        with pytest.raises(StorageUnavailable if db.dialect.name == "postgresql" else sqlite3.OperationalError,
                           match="locked|lock timeout"):
            roll_up(db, NOW, GoalSettings())
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert len(db.execute("SELECT * FROM dirty").fetchall()) == 5
    assert _poison(db) == []
    assert roll_up(db, NOW, GoalSettings()) == RollupRun(3, 2)


def test_the_migration_adds_poison_hours_to_an_existing_database(tmp_path):
    path = tmp_path / "old.db"
    old = open_db(path)
    old.execute("DROP TABLE poison_hours")
    old.execute("DELETE FROM _sqlite_migrations WHERE name = 'm004_poison_hours'")
    old.close()
    db = open_db(path)
    assert db.utils["poison_hours"].columns_dict == {"station": str, "hour": str, "error": str, "failed_at": str,
                                                     "attempts": int}


def test_bad_data_is_the_hours_fault_and_a_busy_database_is_not(tmp_path):
    from cloud.database import database_fault as _database_fault

    conn = sqlite3.connect(tmp_path / "probe.db")
    with pytest.raises(sqlite3.OperationalError) as malformed:
        conn.execute("SELECT json_extract('{not json', '$.uptime_s')")  # a stored health payload gone bad
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = 5  # SQLITE_BUSY
    assert not _database_fault(malformed.value)
    assert _database_fault(busy)
    assert not _database_fault(OverflowError("date value out of range"))


def test_metrics_count_the_poison_hours_in_each_bucket(db):
    """A bucket's figures say how many station-hours are missing from them; a poison-only bucket still shows."""
    run_rollups(db, NOW, GoalSettings())
    hours = {m["bucket"]: m for m in metrics(db, bucket="hour")}
    assert hours["2026-11-23T10:00:00.000Z"]["coverage"]["poisoned_hours"] == 1  # c's hour, beside b's figures
    assert hours["2026-11-23T10:00:00.000Z"]["ratings"]["1"] == 1
    assert hours["2026-11-23T09:00:00.000Z"]["coverage"]["poisoned_hours"] == 0
    assert hours["0001-01-01T00:00:00.000Z"]["coverage"]["poisoned_hours"] == 1
    assert hours["0001-01-01T00:00:00.000Z"]["ratings"] == dict.fromkeys("12345", 0)
    [day] = metrics(db, bucket="day", station="c", start="2026-11-23T00:00:00.000Z")
    assert (day["bucket"], day["coverage"]["poisoned_hours"]) == ("2026-11-23T00:00:00.000Z", 1)
    assert metrics(db, bucket="day", station="b")[0]["coverage"]["poisoned_hours"] == 0
