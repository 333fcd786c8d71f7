"""The outbox's SQLite schema, as an ordered registry of migrations applied when an outbox opens."""

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("forecourt_outbox")


@migrations()
def m001_outbox(db: Database) -> None:
    # AUTOINCREMENT: a number is never reused, even after the table has been emptied by delivery.
    db.execute(
        """CREATE TABLE outbox (
            n INTEGER PRIMARY KEY AUTOINCREMENT,
            seq INTEGER UNIQUE,
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            topic TEXT NOT NULL,
            payload BLOB NOT NULL,
            stored_at REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX outbox_health ON outbox (kind, n)")
    db["meta"].create({"key": str, "value": int}, pk="key")
    db["meta"].insert_all([{"key": "last_seq", "value": 0}, {"key": "dropped", "value": 0}, {"key": "full_open", "value": 0}])


@migrations()
def m002_last_check_ins(db: Database) -> None:
    # Delivered events are deleted, but a restroom's clock must survive a power cut: keep its last
    # counted check-in beside the queue, written in the same transaction as the cleaning event.
    db["last_check_ins"].create({"restroom": str, "at": float}, pk="restroom")


@migrations()
def m003_acknowledgements(db: Database) -> None:
    # Storage acknowledgements name health samples by id, and count the events HQ refused for good.
    db.execute("CREATE INDEX outbox_id ON outbox (id)")
    db["meta"].insert({"key": "rejected", "value": 0})
