"""Manage HQ API users. ``add`` and ``rotate`` print the new token once: only its hash is stored.

Roles: ``hq``, ``region:<path>`` (e.g. region:north/leeds), ``station:<id>``.
``add`` refuses a name that exists (it would end that user's token unnoticed) unless ``--force``;
``rotate`` gives a user a new token and ends the old one; ``remove`` ends a user and their token."""

import argparse
import sys


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="create a user and print their token")
    add.add_argument("name", help="user name, e.g. alice")
    add.add_argument("--role", required=True, help="hq | region:<path> | station:<id>")
    add.add_argument("--force", action="store_true",
                     help="replace an existing user of that name (new role and token; the old token stops working)")
    rotate = sub.add_parser("rotate", help="give a user a new token (printed once); the old one stops working")
    rotate.add_argument("name", help="an existing user")
    remove = sub.add_parser("remove", help="delete a user; their token stops working")
    remove.add_argument("name", help="an existing user")
    listing = sub.add_parser("list", help="list users and roles")
    for child in (add, rotate, remove, listing):
        child.add_argument("--config", default=None, help="collector TOML (for the database path)")
        child.add_argument("--database", default=None, help="SQLite database file or postgresql:// URL (overrides the config)")


def database_path(args: argparse.Namespace):
    from cloud.config import CollectorConfig, load_collector_config

    if args.config:
        return load_collector_config(args.config, database=args.database).database.target
    if args.database:
        return args.database
    import os

    return os.environ.get("FORECOURT_DATABASE") or CollectorConfig().database.path


def run(args: argparse.Namespace) -> int:
    from cloud.auth import AuthError, NoSuchUser, UserExists, add_user, remove_user, rotate_token
    from cloud.store import open_db

    db = open_db(database_path(args))
    try:
        if args.action == "list":
            for name, role, created in db.execute("SELECT name, role, created_at FROM users ORDER BY name"):
                print(f"{name}\t{role}\t{created}")
            return 0
        if args.action == "remove":
            remove_user(db, args.name)
            print(f"forecourt users: removed {args.name}; their token no longer works", file=sys.stderr)
            return 0
        if args.action == "rotate":
            token = rotate_token(db, args.name)
            note = f"(new token for {args.name}: shown once, stored only as a hash; the old token no longer works)"
        else:
            token = add_user(db, args.name, args.role, force=args.force)
            note = f"(token for {args.name}, role {args.role}: shown once, stored only as a hash)"
    except (NoSuchUser, UserExists) as err:  # the database is not as the command expects
        print(f"forecourt users: {err}", file=sys.stderr)
        return 1
    except AuthError as err:  # a malformed name or role
        print(f"forecourt users: {err}", file=sys.stderr)
        return 2
    finally:
        db.close()
    print(token)
    print(note, file=sys.stderr)
    return 0
