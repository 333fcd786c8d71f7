"""Manage HQ API users. ``add`` prints the new token once: only its hash is stored.

Roles: ``hq``, ``region:<path>`` (e.g. region:north/leeds), ``station:<id>``."""

import argparse
import sys


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="create a user (or give an existing one a new token) and print the token")
    add.add_argument("name", help="user name, e.g. alice")
    add.add_argument("--role", required=True, help="hq | region:<path> | station:<id>")
    listing = sub.add_parser("list", help="list users and roles")
    for child in (add, listing):
        child.add_argument("--config", default=None, help="collector TOML (for the database path)")
        child.add_argument("--database", default=None, help="SQLite database file (overrides the config)")


def database_path(args: argparse.Namespace):
    from cloud.config import CollectorConfig, load_collector_config

    if args.config:
        return load_collector_config(args.config, database=args.database).database.path
    if args.database:
        return args.database
    import os

    return os.environ.get("FORECOURT_DATABASE") or CollectorConfig().database.path


def run(args: argparse.Namespace) -> int:
    from cloud.auth import AuthError, add_user
    from cloud.store import open_db

    db = open_db(database_path(args))
    if args.action == "list":
        for name, role, created in db.execute("SELECT name, role, created_at FROM users ORDER BY name"):
            print(f"{name}\t{role}\t{created}")
        return 0
    try:
        token = add_user(db, args.name, args.role)
    except AuthError as err:
        print(f"forecourt users: {err}", file=sys.stderr)
        return 2
    print(token)
    print(f"(token for {args.name}, role {args.role}: shown once, stored only as a hash)", file=sys.stderr)
    return 0
