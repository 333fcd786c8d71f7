"""Validate a station or collector config file. Exits 0 when it is good; otherwise prints every
problem with its key path (e.g. ``restrooms[1].button_pin: pin 17 is already used by ...``)."""

import argparse
import sys

from forecourt.errors import ConfigError
from forecourt.settings import config_hash, load_toml


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="TOML file to check")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--station", action="store_const", const="station", dest="kind", help="treat as a station config")
    kind.add_argument("--collector", action="store_const", const="collector", dest="kind", help="treat as a collector config")


def run(args: argparse.Namespace) -> int:
    from cloud.config import load_collector_config
    from edge.config import load_station_config

    try:
        kind = args.kind or ("station" if "station" in load_toml(args.file) else "collector")
        config = load_station_config(args.file) if kind == "station" else load_collector_config(args.file)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{args.file}: valid {kind} config (hash {config_hash(config)})")
    return 0
