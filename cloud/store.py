"""The collector's database: opening it (SQLite file or PostgreSQL URL, cloud/database.py) and its schema
as an ordered migrations registry, written once in the DDL both engines take (``Dialect.ddl``).

Times are stored as protocol timestamps (``2026-11-23T11:34:00.123Z``), which sort as text, so a
bucket is a prefix: hour ``ts[:13]``, day ``ts[:10]``, month ``ts[:7]``.
"""

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cloud.database import Database, connect
from cloud.migrations import Migrations
from forecourt.protocol import format_ts

migrations = Migrations("forecourt-collector")

# Additive figures of one station over one bucket; see cloud/rollups.py for how each is computed.
ROLLUP_SUMS = (
    "ratings_1", "ratings_2", "ratings_3", "ratings_4", "ratings_5", "ratings_n", "happy_sum", "happy_sq", "bad_n",
    "ratings_restroom", "happy_sum_restroom", "cleanings", "flagged", "overdue_episodes", "overdue_s", "online_s",
    "fps_sum", "fps_n", "visits", "greet_eligible", "greet_within_goal",
)
ROLLUP_MAXES = ("longest_gap_s",)
# Added per key; ratings per reason button, and per restroom id its check-ins and overdue seconds.
ROLLUP_COUNTERS = (
    "greet_hist", "dwell_hist", "excluded", "reasons", "restroom_cleanings", "restroom_flagged", "restroom_overdue_s",
    "filtered_presses", "rating_flags",
)
ROLLUP_KEYED_MAXES = ("restroom_longest_gap_s",)  # the maximum per key: each restroom's longest gap
ROLLUP_JSON = ROLLUP_COUNTERS + ROLLUP_KEYED_MAXES  # stored as JSON objects


def _execute_each(db: Database, script: str) -> None:
    # One statement at a time: executescript() would COMMIT and break the migration's transaction.
    for statement in filter(str.strip, script.split(";")):
        db.execute(db.dialect.ddl(statement))


@migrations()
def m001_core(db: Database) -> None:
    script = """
        CREATE TABLE stations (
            id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', region TEXT NOT NULL DEFAULT '',
            auto_registered INTEGER NOT NULL DEFAULT 0, registered_at TEXT,
            status TEXT NOT NULL DEFAULT 'unknown', status_at TEXT, last_seen TEXT, version TEXT,
            config_hash TEXT, started_at TEXT, last_seq INTEGER, duplicates INTEGER NOT NULL DEFAULT 0,
            health JSON, health_at TEXT
        );
        CREATE INDEX stations_region ON stations(region);
        CREATE TABLE events (
            id TEXT PRIMARY KEY, station TEXT NOT NULL, kind TEXT NOT NULL, ts TEXT NOT NULL,
            seq INTEGER NOT NULL, received_at TEXT NOT NULL, payload JSON NOT NULL
        );
        CREATE INDEX events_station_kind_ts ON events(station, kind, ts);
        CREATE INDEX events_station_ts ON events(station, ts);
        CREATE TABLE health (
            id TEXT PRIMARY KEY, station TEXT NOT NULL, ts TEXT NOT NULL, camera_fps REAL, payload JSON NOT NULL
        );
        CREATE INDEX health_station_ts ON health(station, ts);
        CREATE TABLE status_log (
            id INTEGER PRIMARY KEY, station TEXT NOT NULL, at TEXT NOT NULL, state TEXT NOT NULL
        );
        CREATE INDEX status_log_station_at ON status_log(station, at);
        CREATE TABLE seq_gaps (
            station TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, detected_at TEXT NOT NULL,
            PRIMARY KEY (station, first_seq)
        ) WITHOUT ROWID;
        CREATE TABLE dead_letters (
            id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, topic TEXT NOT NULL, station TEXT,
            reason TEXT NOT NULL, size INTEGER NOT NULL, payload BLOB NOT NULL
        );
        CREATE INDEX dead_letters_station ON dead_letters(station);
        CREATE TABLE dirty (station TEXT NOT NULL, hour TEXT NOT NULL, PRIMARY KEY (station, hour)) WITHOUT ROWID;
        CREATE TABLE users (
            name TEXT PRIMARY KEY, role TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL
        );
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY, station TEXT NOT NULL, rule TEXT NOT NULL, subject TEXT NOT NULL DEFAULT '',
            episode TEXT NOT NULL, message TEXT NOT NULL, opened_at TEXT NOT NULL, due_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'open', acknowledged_by TEXT, acknowledged_at TEXT,
            resolved_by TEXT, resolved_at TEXT, comment TEXT, ack_comment TEXT, cleared_at TEXT,
            UNIQUE (station, rule, subject, episode)
        );
        CREATE INDEX alerts_state ON alerts(state, station);
        CREATE INDEX alerts_station ON alerts(station, state);
    """
    _execute_each(db, script)
    sums = ", ".join(f"{name} REAL NOT NULL DEFAULT 0" for name in ROLLUP_SUMS + ROLLUP_MAXES)
    # The JSON columns of this first version; later ones are added by their own migrations (m006).
    blobs = ", ".join(f"{name} TEXT NOT NULL DEFAULT '{{}}'" for name in ("greet_hist", "dwell_hist", "excluded"))
    db.execute(db.dialect.ddl(
        f"""CREATE TABLE rollups (
            station TEXT NOT NULL, period TEXT NOT NULL, bucket TEXT NOT NULL, complete INTEGER NOT NULL DEFAULT 0,
            {sums}, {blobs}, PRIMARY KEY (station, period, bucket)
        ) WITHOUT ROWID"""
    ))
    db.execute("CREATE INDEX rollups_period_bucket ON rollups(period, bucket)")


@migrations()
def m002_rollups_by_bucket(db: Database) -> None:
    """Rows of one period and bucket stored together, so a chain-wide ranking reads one contiguous range
    (30,000 month rows) instead of seeking each station's row; per-station reads use an index.

    PostgreSQL keeps rows in arrival order whatever the key, so there only the key changes."""
    if db.dialect.name == "postgresql":
        db.execute("ALTER TABLE rollups DROP CONSTRAINT rollups_pkey, ADD PRIMARY KEY (period, bucket, station)")
        db.execute("DROP INDEX rollups_period_bucket")
        db.execute("CREATE INDEX rollups_station ON rollups(station, period, bucket)")
        return
    columns = ", ".join(r[1] for r in db.execute("PRAGMA table_info(rollups)"))
    create = db.execute("SELECT sql FROM sqlite_master WHERE name = 'rollups'").fetchone()[0]
    db.execute("DROP INDEX rollups_period_bucket")
    db.execute("ALTER TABLE rollups RENAME TO rollups_old")
    db.execute(create.replace("PRIMARY KEY (station, period, bucket)", "PRIMARY KEY (period, bucket, station)"))
    db.execute(f"INSERT INTO rollups ({columns}) SELECT {columns} FROM rollups_old")
    db.execute("DROP TABLE rollups_old")
    db.execute("CREATE INDEX rollups_station ON rollups(station, period, bucket)")


@migrations()
def m003_alert_events_index(db: Database) -> None:
    """The alert rules look at the whole chain's recent station alerts every run; without this index
    that is a scan of every event ever stored."""
    db.execute("CREATE INDEX events_alerts_ts ON events(ts) WHERE kind = 'alert'")


@migrations()
def m004_poison_hours(db: Database) -> None:
    """Station-hours whose recomputation raised, set aside with the error so the rest of the dirty queue
    proceeds (cloud/rollups.py). A new dirty mark for one retries it; a success removes it."""
    db.execute(db.dialect.ddl(
        """CREATE TABLE poison_hours (
            station TEXT NOT NULL, hour TEXT NOT NULL, error TEXT NOT NULL, failed_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (station, hour)
        ) WITHOUT ROWID"""
    ))


@migrations()
def m005_followups(db: Database) -> None:
    """Follow-up items of bad ratings (cloud/followups.py): one per station and station-local day (a
    second one when the first was closed before more bad ratings came), the ratings each lists, its
    escalations, and each station's time zone for counting working days (NULL: the collector's default).

    ``followup_ratings.event_id`` is the key, so re-running the job never lists a rating twice; the job
    reads ratings by ``received_at`` (indexed) after its mark in ``job_marks``, so a rating replayed days
    late still opens its item."""
    script = """
        ALTER TABLE stations ADD COLUMN timezone TEXT;
        CREATE TABLE followups (
            id INTEGER PRIMARY KEY, station TEXT NOT NULL, day TEXT NOT NULL, opened_at TEXT NOT NULL,
            follow_up_due TEXT NOT NULL, rectify_due TEXT NOT NULL, timezone TEXT NOT NULL, calendar TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'open', acknowledged_by TEXT, acknowledged_at TEXT, ack_note TEXT,
            closed_by TEXT, closed_at TEXT, close_note TEXT
        );
        CREATE INDEX followups_station_day ON followups(station, day);
        CREATE INDEX followups_state ON followups(state, opened_at);
        CREATE TABLE followup_ratings (
            event_id TEXT PRIMARY KEY, followup INTEGER NOT NULL REFERENCES followups(id), ts TEXT NOT NULL,
            score INTEGER NOT NULL, scale INTEGER NOT NULL, kiosk TEXT NOT NULL, reason TEXT
        ) WITHOUT ROWID;
        CREATE INDEX followup_ratings_item ON followup_ratings(followup, ts);
        CREATE TABLE followup_escalations (
            followup INTEGER NOT NULL REFERENCES followups(id), stage TEXT NOT NULL, due_at TEXT NOT NULL,
            escalated_at TEXT NOT NULL, told TEXT NOT NULL, users TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (followup, stage)
        ) WITHOUT ROWID;
        CREATE TABLE job_marks (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE INDEX events_ratings_received ON events(received_at) WHERE kind = 'rating'
    """
    _execute_each(db, script)


@migrations()
def m006_reasons_and_restrooms(db: Database) -> None:
    """Ratings per reason and figures per restroom in every rollup row (cloud/figures.py). Past hours that
    may hold such figures are marked dirty, so the rollup job fills the new columns in for them too."""
    for name in ("reasons", "restroom_cleanings", "restroom_flagged", "restroom_overdue_s", "restroom_longest_gap_s"):
        db.execute(db.dialect.ddl(f"ALTER TABLE rollups ADD COLUMN {name} TEXT NOT NULL DEFAULT '{{}}'"))
    # Hours with ratings, check-ins or overdue time (which runs through hours without events) are the
    # ones the new columns can differ in.
    db.execute(
        """INSERT INTO dirty (station, hour) SELECT station, bucket FROM rollups
           WHERE period = 'hour' AND (ratings_n > 0 OR cleanings > 0 OR flagged > 0 OR overdue_s > 0)
           ON CONFLICT DO NOTHING"""
    )


@migrations()
def m007_followup_rating_flags(db: Database) -> None:
    """A follow-up lists a doubtful bad rating too (two buttons at once: the edge's ``flag``), with its flag,
    so whoever follows it up can weigh it instead of the collector silently dropping it."""
    db.execute(db.dialect.ddl("ALTER TABLE followup_ratings ADD COLUMN flag TEXT"))


@migrations()
def m008_filtered_presses(db: Database) -> None:
    """Kiosk presses that are not ratings (a burst, a held or stuck key: the ``filtered_presses`` events) per
    reason, and doubtful ratings per flag, in every rollup row; hours that hold such events are redone."""
    for name in ("filtered_presses", "rating_flags"):
        db.execute(db.dialect.ddl(f"ALTER TABLE rollups ADD COLUMN {name} TEXT NOT NULL DEFAULT '{{}}'"))
    db.execute(
        """INSERT INTO dirty (station, hour) SELECT DISTINCT station, substr(ts, 1, 13) FROM events
           WHERE kind = 'filtered_presses' OR (kind = 'rating' AND payload ->> 'flag' IS NOT NULL)
           ON CONFLICT DO NOTHING"""
    )


@migrations()
def m009_fleet_config(db: Database) -> None:
    """Fleet configuration (cloud/fleet_store.py): each layer's settings, every document issued per station
    (its history; the newest is the one retained on its config topic), each station's latest config state,
    and the audit trail of who changed what. Values are JSON text; an audit side that is NULL was unset."""
    script = """
        CREATE TABLE fleet_settings (
            layer TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, set_by TEXT NOT NULL, set_at TEXT NOT NULL,
            PRIMARY KEY (layer, key)
        ) WITHOUT ROWID;
        CREATE TABLE fleet_documents (
            id INTEGER PRIMARY KEY, station TEXT NOT NULL, rev INTEGER NOT NULL, hash TEXT NOT NULL,
            issued_at TEXT NOT NULL, settings TEXT NOT NULL, UNIQUE (station, rev)
        );
        CREATE TABLE fleet_states (
            station TEXT PRIMARY KEY, rev INTEGER NOT NULL, hash TEXT NOT NULL, state TEXT NOT NULL,
            errors TEXT NOT NULL, applied_rev INTEGER NOT NULL, restart_needed TEXT NOT NULL, at TEXT NOT NULL,
            received_at TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE fleet_audit (
            id INTEGER PRIMARY KEY, change INTEGER NOT NULL, at TEXT NOT NULL, "user" TEXT NOT NULL, layer TEXT NOT NULL,
            key TEXT NOT NULL, old TEXT, new TEXT, note TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX fleet_audit_layer ON fleet_audit(layer, id)
    """
    _execute_each(db, script)


def open_db(target: str | Path, *, tracer: Callable[[str, object], None] | None = None) -> Database:
    """The database at ``target`` (a SQLite file path or a ``postgresql://`` URL), created and migrated."""
    db = connect(target, tracer=tracer)
    migrations.apply(db)
    return db


def writing(db: Database) -> contextlib.AbstractContextManager[None]:
    """A write transaction (nested: a savepoint); on SQLite it takes the write lock up front, so writers queue."""
    return db.transaction()


def utc_now() -> datetime:
    return datetime.now(UTC)


def now_ts(now: datetime) -> str:
    return format_ts(now)
