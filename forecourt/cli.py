"""``forecourt``: one command, a subcommand per job. Each lives in ``forecourt/commands/<name>.py``
with ``register(parser)`` and ``run(args) -> int``, imported only when chosen so ``--help`` is instant."""

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from forecourt import __version__
from forecourt.errors import ForecourtError
from forecourt.logs import resolve_level, setup_logging

COMMANDS: dict[str, tuple[str, str]] = {
    "edge": ("edge", "run the station service: sensors, camera, outbox and MQTT link"),
    "collector": ("collector", "run the HQ collector: MQTT ingest, rollups, alerts and the HTTP API"),
    "analyze": ("analyze", "measure visits and zone dwells in a recorded video"),
    "demo": ("demo", "run broker, collector and a simulated fleet on this machine"),
    "provision": ("provision", "create credentials and config for a station or the collector"),
    "users": ("users", "manage HQ API users and their tokens"),
    "db": ("db", "the collector's database: migrate its schema, copy a site from SQLite to PostgreSQL"),
    "stations": ("stations", "manage the station registry (import from CSV)"),
    "config": ("config_cmd", "fleet configuration from HQ: set, show, status, history, rollback"),
    "check-config": ("check_config", "validate a station or collector config file"),
    "schema": ("schema", "print or write the JSON Schema of every protocol v1 message"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="forecourt", description="Fuel-station service promises as numbers.")
    parser.add_argument("--version", action="version", version=f"forecourt {__version__}")
    parser.add_argument(
        "--log-level", help="DEBUG, INFO, WARNING or ERROR (default: $FORECOURT_LOG_LEVEL or INFO)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, summary) in COMMANDS.items():
        command = importlib.import_module(f"forecourt.commands.{module}")
        child = sub.add_parser(name, help=summary, description=command.__doc__ or summary)
        command.register(child)
        child.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        setup_logging(resolve_level(args.log_level))
    except ValueError as err:
        print(f"forecourt: {err}", file=sys.stderr)
        return 2
    try:
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # here, not at exit: a reader that went away is then caught below
        return code
    except BrokenPipeError:
        # `forecourt schema | head`: the reader has what it wanted; stop quietly, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except ForecourtError as err:
        logging.getLogger("forecourt").error("%s", err)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
