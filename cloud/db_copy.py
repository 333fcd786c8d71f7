"""Moving a site's data from one database to another (SQLite to PostgreSQL, or back): ``forecourt db copy``.

The target is created and migrated to this version's schema and must hold no data; the source must be
at the same schema version. Every table is copied in one transaction on the target, so a copy that
fails leaves the target as empty as it was; identity counters are moved past the copied ids, and the
row counts are compared before the transaction commits.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cloud.database import Database, connect, describe
from cloud.store import migrations, open_db
from forecourt.errors import ForecourtError

# Parents before children (followups before the rows that reference them).
TABLES = (
    "stations", "events", "health", "status_log", "seq_gaps", "dead_letters", "dirty", "users", "alerts",
    "rollups", "poison_hours", "followups", "followup_ratings", "followup_escalations", "job_marks",
    "fleet_settings", "fleet_documents", "fleet_states", "fleet_audit",
)
IDENTITY_TABLES = ("status_log", "dead_letters", "alerts", "followups", "fleet_documents", "fleet_audit")
CHUNK_ROWS = 5000


class CopyError(ForecourtError, RuntimeError):
    """The source or target is not fit for a copy; the message says which and why."""


@dataclass(frozen=True)
class CopiedTable:
    table: str
    rows: int


def columns(db: Database, table: str) -> list[str]:
    cursor = db.execute(f"SELECT * FROM {table} LIMIT 0")
    cursor.fetchall()
    return [d[0] for d in cursor.description]


def _chunks(db: Database, table: str, names: list[str]) -> Iterator[list[tuple]]:
    quoted = ", ".join(f'"{n}"' for n in names)
    cursor = db.execute(f"SELECT {quoted} FROM {table}")
    while rows := cursor.fetchmany(CHUNK_ROWS):
        yield [tuple(r) for r in rows]


def _check_source(source: Database, where: str) -> None:
    pending = [m.name for m in migrations.pending(source)]
    if pending:
        raise CopyError(f"{where} is at an older schema (pending: {', '.join(pending)}); run `forecourt db migrate` on it first")


def _check_empty(target: Database, where: str) -> None:
    held = [t for t in TABLES if target.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone()]
    if held:
        raise CopyError(f"{where} already holds data (tables {', '.join(held)}); copy into an empty database")


def _advance_identities(target: Database) -> None:
    if target.dialect.name != "postgresql":
        return  # SQLite's INTEGER PRIMARY KEY continues from the highest id by itself
    for table in IDENTITY_TABLES:
        target.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table}"
        )


def copy_database(
    source_target: str | Path, target_target: str | Path, *, progress: Callable[[CopiedTable], None] | None = None,
) -> list[CopiedTable]:
    """Copy every table of ``source_target`` into ``target_target`` (created and migrated here)."""
    source = connect(source_target, read_only=True)
    try:
        _check_source(source, describe(source_target))
        target = open_db(target_target)
        try:
            _check_empty(target, describe(target_target))
            copied = []
            with target.transaction():
                for table in TABLES:
                    names = columns(source, table)
                    insert = f"INSERT INTO {table} ({', '.join(f'{chr(34)}{n}{chr(34)}' for n in names)}) " \
                             f"VALUES ({', '.join('?' * len(names))})"
                    rows = 0
                    for chunk in _chunks(source, table, names):
                        try:
                            target.executemany(insert, chunk)
                        except Exception as err:
                            raise CopyError(f"copying {table} into {describe(target_target)} failed: {err}") from err
                        rows += len(chunk)
                    (held,) = target.execute(f"SELECT count(*) FROM {table}").fetchone()
                    if held != rows:
                        raise CopyError(f"{table}: {rows} rows read but {held} in the target; nothing was copied")
                    copied.append(CopiedTable(table, rows))
                    if progress:
                        progress(copied[-1])
                _advance_identities(target)
            return copied
        finally:
            target.close()
    finally:
        source.close()
