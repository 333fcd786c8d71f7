"""The collector service wired in one place: MQTT ingest, the rollup/alert job, and the HTTP API."""

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime

import uvicorn

from cloud.api import create_app
from cloud.broker_sys import BrokerSys
from cloud.config import CollectorConfig
from cloud.database import describe
from cloud.fleet_link import FleetPublisher
from cloud.fleet_store import chain_goals
from cloud.followup_records import run_followups
from cloud.ingest import Ingestor
from cloud.prometheus import CollectorMetrics
from cloud.rollups import run_rollups
from cloud.rules import run_rules
from cloud.store import open_db, utc_now
from cloud.subscriber import Subscriber
from cloud.worker import ProcessIngestor
from forecourt.errors import BrokerError
from forecourt.sdnotify import notify, watchdog_interval

log = logging.getLogger("forecourt.collector")


FLEET_JOBS = "forecourt:fleet-jobs"


class Jobs:
    """Every ``interval_s``: recompute dirty rollups, evaluate the alert rules, then open follow-up items for
    the bad ratings received since the last run and escalate passed deadlines (on its own connection).

    Several collectors on one PostgreSQL share the rollups (each takes stations nobody else holds); the
    fleet-wide jobs (alert rules, including offline and overdue, follow-ups and their deadlines) run in
    one collector at a time, whichever holds the advisory lock for that run."""

    def __init__(self, config: CollectorConfig, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.config = config
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="collector-jobs", daemon=True)

    def run_once(self, db) -> tuple[int, int, int]:
        """Station-hours rolled up, alerts opened, follow-up items opened."""
        now = self.clock()
        hours = run_rollups(db, now, chain_goals(db, self.config.goals))  # HQ's goals.* over the file's
        if not db.try_lock(FLEET_JOBS):
            return hours, 0, 0  # another collector runs them now
        try:
            opened = run_rules(db, self.config.alerts, now, self.config.followups)
            return hours, opened, run_followups(db, self.config.followups, now).opened
        finally:
            db.unlock(FLEET_JOBS)

    def _loop(self) -> None:
        db = open_db(self.config.database.target)
        while not self._stop.wait(self.config.ingest.rollup_interval_s):
            try:
                hours, opened, followups = self.run_once(db)
                if hours or opened or followups:
                    log.info("rolled up %d station-hours; %d alert(s), %d follow-up(s) opened", hours, opened, followups)
            except Exception:  # a bad run must not end the job; the next one tries again
                log.exception("rollup/alert run failed")

    def start(self) -> "Jobs":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)


class CollectorService:
    """The whole collector in this process: ``start()`` returns once ingest is subscribed and the API
    listens; ``stop()`` shuts it down. ``run()`` is the blocking form the command uses."""

    def __init__(self, config: CollectorConfig, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.config = config
        path = config.database.target
        open_db(path).close()  # create and migrate before any thread opens it
        self.broker_sys = BrokerSys()
        self.metrics = CollectorMetrics(path, broker=self.broker_sys)  # what /metrics serves
        self.subscriber = Subscriber(
            config.mqtt, config.ingest, self._ingestor, clock=clock, on_batch=self.metrics.ingest.record,
            broker_sys=self.broker_sys,
        )
        self.jobs = Jobs(config, clock=clock)
        self.fleet = FleetPublisher(
            path, self.subscriber.client, settings=config.fleet, generation=lambda: self.subscriber.connections, clock=clock,
        )
        app = create_app(config, clock=clock, prometheus=self.metrics.registry)
        self.server = uvicorn.Server(uvicorn.Config(
            app, host=config.http.host, port=config.http.port, log_level="warning",
        ))
        self._thread: threading.Thread | None = None

    def _ingestor(self) -> Ingestor | ProcessIngestor:
        cap = self.config.ingest.dead_letter_bytes
        if self.config.ingest.worker_process:
            return ProcessIngestor(self.config.database.target, dead_letter_bytes=cap).start()
        return Ingestor(open_db(self.config.database.target), dead_letter_bytes=cap)

    @property
    def url(self) -> str:
        return f"http://{self.config.http.listen}"

    def start(self, timeout: float = 20.0) -> "CollectorService":
        self.subscriber.start()
        self.fleet.start()
        self.jobs.start()
        self._thread = threading.Thread(target=self.server.run, name="collector-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise BrokerError(f"the API did not start on {self.config.http.listen}")
            time.sleep(0.01)
        log.info("collector: database %s, API on %s", describe(self.config.database.target), self.url)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
        self.jobs.stop()
        self.fleet.stop()
        self.subscriber.stop()

    def run(self) -> int:
        """Until SIGINT/SIGTERM. Tells systemd READY only once ingest is subscribed and the API listens,
        then pets its watchdog while the API thread lives, so a wedged collector is restarted."""
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        self.start()
        notify("READY=1")
        interval = watchdog_interval()
        try:
            while not stop.wait(interval or 1.0):
                if self._thread is None or not self._thread.is_alive():
                    log.error("the HTTP server stopped unexpectedly; exiting so the service manager restarts us")
                    return 1
                if interval:
                    notify("WATCHDOG=1")
        finally:
            notify("STOPPING=1")
            self.stop()
        return 0


def run(config: CollectorConfig) -> int:
    return CollectorService(config).run()
