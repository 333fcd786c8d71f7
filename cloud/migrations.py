"""Schema versions: an ordered list of named migrations, each applied once per database, in one
transaction with the record of it, on either backend.

On SQLite the record is sqlite-utils' own ``_sqlite_migrations`` table (same columns, same set name), so
a file created by an earlier collector, which used ``sqlite_utils.migrations``, carries on where it was.
On PostgreSQL several collectors may start at once: the runner holds an advisory lock while it works.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cloud.database import Database

MIGRATE_LOCK = "forecourt:migrate"


@dataclass(frozen=True)
class Migration:
    name: str
    apply: Callable[[Database], None]


class Migrations:
    """``@migrations()`` registers a function ``fn(db)`` under its name; :meth:`apply` runs the pending ones."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.all: list[Migration] = []

    def __call__(self) -> Callable[[Callable[[Database], None]], Callable[[Database], None]]:
        def register(fn: Callable[[Database], None]) -> Callable[[Database], None]:
            if any(m.name == fn.__name__ for m in self.all):
                raise ValueError(f"migration {fn.__name__} is registered twice")
            self.all.append(Migration(fn.__name__, fn))
            return fn

        return register

    def _ensure_table(self, db: Database) -> None:
        db.execute(db.dialect.ddl(
            f"""CREATE TABLE IF NOT EXISTS {db.dialect.migrations_table} (
                id INTEGER PRIMARY KEY, migration_set TEXT, name TEXT, applied_at TEXT)"""
        ))
        db.execute(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {db.dialect.migrations_table}_migration_set_name "
            f"ON {db.dialect.migrations_table} (migration_set, name)"
        )

    def applied(self, db: Database) -> list[str]:
        """Names of the migrations applied to ``db``, in order (none on a new database)."""
        table = db.dialect.migrations_table
        if not db.execute(db.dialect.table_exists, [table]).fetchone():
            return []
        return [r[0] for r in db.execute(f"SELECT name FROM {table} WHERE migration_set = ? ORDER BY id", [self.name])]

    def pending(self, db: Database) -> list[Migration]:
        done = set(self.applied(db))
        return [m for m in self.all if m.name not in done]

    def apply(self, db: Database) -> list[str]:
        """Apply what is pending; returns the names applied now."""
        if not self.pending(db):
            return []  # the common case, without taking any lock
        while not db.try_lock(MIGRATE_LOCK):  # another collector is migrating; its work is ours too
            db.execute("SELECT pg_sleep(0.1)")
        try:
            self._ensure_table(db)
            done = []
            for migration in self.pending(db):
                with db.transaction():
                    migration.apply(db)
                    db.execute(
                        f"INSERT INTO {db.dialect.migrations_table} (migration_set, name, applied_at) VALUES (?, ?, ?)",
                        [self.name, migration.name, str(datetime.now(UTC))],
                    )
                done.append(migration.name)
            return done
        finally:
            db.unlock(MIGRATE_LOCK)
