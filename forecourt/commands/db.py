"""The collector's database: ``migrate`` brings its schema to this version (``--status``: only say where it
stands); ``copy SRC DST`` moves a site's data to another database, e.g. from the SQLite file to PostgreSQL.

A database is a SQLite file path or a ``postgresql://`` URL (the password from ~/.pgpass or PGPASSWORD).
``copy`` creates and migrates DST, which must hold no data; SRC must be migrated already. Stop the
collector first: rows that arrive during a copy are not in it (stations resend what HQ did not acknowledge)."""

import argparse
import sys
import time


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    migrate = sub.add_parser("migrate", help="apply the schema migrations this version has and the database lacks")
    migrate.add_argument("--status", action="store_true", help="list applied and pending migrations; change nothing")
    migrate.add_argument("--config", default=None, help="collector TOML (for the database)")
    migrate.add_argument("--database", default=None, help="SQLite database file or postgresql:// URL (overrides the config)")
    copy = sub.add_parser("copy", help="copy every table from SRC into the empty database DST")
    copy.add_argument("source", metavar="SRC", help="SQLite file or postgresql:// URL to read")
    copy.add_argument("target", metavar="DST", help="SQLite file or postgresql:// URL to create and fill")


def run(args: argparse.Namespace) -> int:
    return _migrate(args) if args.action == "migrate" else _copy(args)


def _migrate(args: argparse.Namespace) -> int:
    from cloud.database import connect, describe
    from cloud.store import migrations
    from forecourt.commands.users import database_path

    target = database_path(args)
    db = connect(target)
    try:
        applied, pending = migrations.applied(db), [m.name for m in migrations.pending(db)]
        if args.status:
            for name in applied:
                print(f"applied\t{name}")
            for name in pending:
                print(f"pending\t{name}")
            return 0
        done = migrations.apply(db)
    finally:
        db.close()
    print(f"forecourt db: {describe(target)}: {len(applied)} migration(s) were applied, {len(done)} now"
          + (f" ({', '.join(done)})" if done else "; the schema is current"), file=sys.stderr)
    return 0


def _copy(args: argparse.Namespace) -> int:
    from cloud.database import describe
    from cloud.db_copy import CopiedTable, copy_database

    started = time.monotonic()

    def progress(done: CopiedTable) -> None:
        print(f"{done.table}\t{done.rows}", flush=True)

    copied = copy_database(args.source, args.target, progress=progress)
    print(f"forecourt db: copied {sum(c.rows for c in copied):,} rows in {len(copied)} tables from "
          f"{describe(args.source)} to {describe(args.target)} in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0
