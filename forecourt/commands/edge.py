"""Run the station service: restroom and kiosk buttons, the camera (when configured), the durable outbox
and the MQTT link. ``--simulate`` uses gpiozero's mock pins so it runs on any machine; SIGTERM or
Ctrl-C stop it cleanly (it publishes its offline status on the way out)."""

import argparse
import logging
import signal
from pathlib import Path

log = logging.getLogger("forecourt.edge")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="FILE", help="station config (TOML)")
    parser.add_argument(
        "--simulate", action="store_true", help="use gpiozero's MockFactory pins instead of the Pi's GPIO"
    )
    parser.add_argument("--broker", metavar="URL", help="broker URL; overrides $FORECOURT_BROKER_URL and the file")


def run(args: argparse.Namespace) -> int:
    from edge.config import load_station_config
    from edge.service import EdgeService

    config = load_station_config(args.config, broker_url=args.broker)
    pin_factory = None
    if args.simulate:
        from gpiozero.pins.mock import MockFactory

        pin_factory = MockFactory()
    service = EdgeService(config, pin_factory=pin_factory, config_path=Path(args.config))

    def stop(signum: int, _frame: object) -> None:
        log.info("%s received; stopping", signal.Signals(signum).name)
        service.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    service.run()
    return 0
