"""Run the HQ collector: MQTT ingest into SQLite, rollups and alert rules, and the HTTP API.

Flags override ``FORECOURT_BROKER_URL`` / ``FORECOURT_DATABASE`` / ``FORECOURT_LISTEN``, which
override the config file."""

import argparse


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="collector TOML file, e.g. examples/collector.toml")
    parser.add_argument("--broker", help="broker URL, e.g. mqtt://127.0.0.1:1883")
    parser.add_argument("--database", help="SQLite database file or postgresql:// URL (env FORECOURT_DATABASE)")
    parser.add_argument("--listen", help="HOST:PORT for the API and dashboard")


def run(args: argparse.Namespace) -> int:
    from cloud.config import load_collector_config
    from cloud.service import run as run_service

    config = load_collector_config(args.config, broker_url=args.broker, database=args.database, listen=args.listen)
    return run_service(config)
