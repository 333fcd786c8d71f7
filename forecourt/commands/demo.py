"""Run the whole chain on this machine: a Mosquitto broker with auth and the station ACL, the collector
with its API and dashboard, and a fleet of twelve simulated stations running the real edge code (one
of them watching examples/footage/vtest.avi through the real detector and tracker), with weeks of
history back-filled through the same path, its progress shown as it goes. Prints the dashboard URL, a
token and the broker URL once HQ holds that history (or, after a few minutes, with a warning that it is
still arriving); stops --for SECONDS after that or on Ctrl-C / SIGTERM, taking everything it started with it."""

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

log = logging.getLogger("forecourt.demo")
HQ_WAIT_S = 180.0  # longest wait for HQ to store and roll up the history before the address is given anyway


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--for", dest="duration", type=float, metavar="SECONDS",
        help="stop by itself this long after printing the dashboard's address (the back-fill comes first)",
    )
    parser.add_argument("--data", type=Path, metavar="DIR", help="keep broker, database and outboxes here (default: a temporary directory, removed on exit)")
    parser.add_argument("--days", type=float, default=21.0, help="days of history to back-fill (default 21)")
    parser.add_argument("--stations", type=int, default=12, choices=range(1, 13), metavar="1-12", help="fleet size (default 12)")
    parser.add_argument("--no-camera", action="store_true", help="skip the vtest.avi camera station's vision pipeline")
    parser.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")


def run(args: argparse.Namespace) -> int:
    from forecourt.demo.orchestrate import Demo, DemoOptions
    from forecourt.demo.progress import Reporter

    if args.duration is not None and args.duration <= 0:
        print("forecourt demo: --for needs a positive number of seconds", file=sys.stderr)
        return 2
    options = DemoOptions(
        data_dir=args.data, days=max(0.0, args.days), stations=args.stations, camera=not args.no_camera, seed=args.seed
    )
    demo = Demo(options)
    stop = demo.stop_event

    def on_signal(signum: int, _frame: object) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    timer: threading.Timer | None = None
    progress = Reporter()
    try:
        urls = demo.start()
        if not stop.is_set():
            log.info("back-filling %g days of history for %d stations ...", options.days, len(demo.stations))
            demo.backfill(progress)
        ready = not stop.is_set() and demo.wait_for_hq(HQ_WAIT_S, progress)
        progress.finish()
        if stop.is_set():
            return 0
        if not ready:
            log.warning("HQ has not caught up with the history after %.0f s: the dashboard's figures are partial "
                        "and fill in as the rest arrives", HQ_WAIT_S)
        print(f"Dashboard: {urls.dashboard}", flush=True)
        print(f"Token: {urls.token}", flush=True)
        print(f"MQTT: {urls.mqtt}", flush=True)
        if args.duration:
            timer = threading.Timer(args.duration, stop.set)
            timer.daemon = True
            timer.start()
        demo.go_live()
        log.info("live: open the dashboard and log in with the token; Ctrl-C stops everything")
        stop.wait()
    finally:
        if timer:
            timer.cancel()
        demo.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
