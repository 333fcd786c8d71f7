"""The collector service wired in one place: MQTT ingest, the rollup/alert job, and the HTTP API."""

import logging
import threading
from collections.abc import Callable
from datetime import datetime

import uvicorn

from cloud.api import create_app
from cloud.config import CollectorConfig
from cloud.ingest import Ingestor
from cloud.rollups import run_rollups
from cloud.rules import run_rules
from cloud.store import open_db, utc_now
from cloud.subscriber import Subscriber
from forecourt.sdnotify import notify

log = logging.getLogger("forecourt.collector")


class Jobs:
    """Every ``interval_s``: recompute dirty rollups, then evaluate the alert rules (on its own connection)."""

    def __init__(self, config: CollectorConfig, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.config = config
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="collector-jobs", daemon=True)

    def run_once(self, db) -> tuple[int, int]:
        now = self.clock()
        hours = run_rollups(db, now, self.config.goals)
        return hours, run_rules(db, self.config.alerts, now)

    def _loop(self) -> None:
        db = open_db(self.config.database.path)
        while not self._stop.wait(self.config.ingest.rollup_interval_s):
            try:
                hours, opened = self.run_once(db)
                if hours or opened:
                    log.info("rolled up %d station-hours; %d alert(s) opened", hours, opened)
            except Exception:  # a bad run must not end the job; the next one tries again
                log.exception("rollup/alert run failed")

    def start(self) -> "Jobs":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)


def run(config: CollectorConfig) -> int:
    path = config.database.path
    open_db(path).conn.close()
    subscriber = Subscriber(
        config.mqtt, config.ingest, lambda: Ingestor(open_db(path), dead_letter_bytes=config.ingest.dead_letter_bytes)
    )
    subscriber.start()
    jobs = Jobs(config).start()
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host=config.http.host, port=config.http.port, log_level="warning")
    )
    log.info("collector: database %s, API on http://%s", path, config.http.listen)
    notify("READY=1")
    try:
        server.run()  # returns on SIGINT/SIGTERM
    finally:
        notify("STOPPING=1")
        jobs.stop()
        subscriber.stop()
    return 0
