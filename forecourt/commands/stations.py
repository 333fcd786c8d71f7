"""Manage the station registry. ``import FILE`` reads CSV rows ``id,name,region[,timezone]`` (with that
header), e.g. ``leeds-01,Leeds Ring Road,north/west-yorkshire/leeds``; names and regions are updated, live
status is kept. ``forecourt provision station`` writes such a file (``stations.csv``); ``-`` reads it from
standard input, so ``sudo -u forecourt forecourt stations import - < stations.csv`` works from a directory
only you can read."""

import argparse
import sys
from pathlib import Path


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = sub.add_parser("import", help="create or update stations from a CSV file")
    imp.add_argument("file", help="CSV with header id,name,region[,timezone]; - for standard input")
    listing = sub.add_parser("list", help="list registered stations")
    for child in (imp, listing):
        child.add_argument("--config", default=None, help="collector TOML (for the database path)")
        child.add_argument("--database", default=None, help="SQLite database file or postgresql:// URL (overrides the config)")


def run(args: argparse.Namespace) -> int:
    from cloud.registry import RegistryError, import_stations, parse_csv
    from cloud.store import open_db, utc_now
    from forecourt.commands.users import database_path

    db = open_db(database_path(args))
    if args.action == "list":
        for row in db.execute("SELECT id, name, region, status, auto_registered FROM stations ORDER BY region, id"):
            print("\t".join("" if v is None else str(v) for v in row))
        return 0
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8-sig")
        entries = parse_csv(text.removeprefix("\ufeff"))
    except OSError as err:
        print(f"forecourt stations: {args.file}: {err.strerror}", file=sys.stderr)
        return 1
    except RegistryError as err:
        print(f"forecourt stations: {args.file}:\n{err}", file=sys.stderr)
        return 1
    count = import_stations(db, entries, now=utc_now())
    print(f"imported {count} station(s) from {'standard input' if args.file == '-' else args.file}")
    return 0
