"""Brings the whole chain up on free loopback ports and takes it down again, leaving nothing behind.

Order follows the data: the broker (auth + the shipped station ACL), the collector's database (station
registry, an HQ user), the collector as a subprocess (``forecourt collector``), then the fleet in this
process: each station the real :class:`edge.service.EdgeService` on its own ``MockFactory``. History is
back-filled through the same path (sensor logic on a simulated clock -> outbox -> publisher -> broker ->
collector), reporting how far it got; :meth:`Demo.wait_for_hq` then waits until HQ has stored every event
and rolled up every finished hour, so the dashboard shows the history when its address is given out. Then
the stations follow the wall clock. Stop runs in reverse and is safe to call twice.
"""

import contextlib
import logging
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path

from forecourt.broker import COLLECTOR_USER, Mosquitto, free_port
from forecourt.children import die_with_parent
from forecourt.demo.driver import SimulatedStation
from forecourt.demo.fleet import FLEET, registry_csv, station_config
from forecourt.demo.progress import Step
from forecourt.errors import ForecourtError

log = logging.getLogger(__name__)

LIVE_STEP_S = 0.05  # how often live stations are advanced: finer than any press's hold time
PROGRESS_S = 0.5  # how often the preparation reports how far it is
DEMO_USER = "demo-hq"


class DemoError(ForecourtError, RuntimeError):
    """A part of the demo did not come up."""


@dataclass(frozen=True)
class DemoOptions:
    data_dir: Path | None = None  # None: a temporary directory, removed on stop
    days: float = 21.0  # history to back-fill
    stations: int = len(FLEET)
    camera: bool = True  # run the vtest.avi station through the real detector and tracker
    seed: int = 0
    host: str = "127.0.0.1"
    rollup_interval_s: float = 10.0


@dataclass
class Urls:
    dashboard: str = ""
    mqtt: str = ""
    token: str = ""


def scratch_dir() -> str | None:
    """Where a throw-away demo keeps its files: RAM (``/dev/shm``) when there is one.

    Every outbox commit is fsynced (``synchronous=FULL``, as a station must); back-filling weeks of
    history means ~100,000 such commits, minutes on a busy disk and seconds in RAM. The data is deleted
    on exit anyway, and ``--data DIR`` still puts it wherever the user wants.
    """
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


class Demo:
    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.owns_dir = options.data_dir is None
        self.dir = Path(tempfile.mkdtemp(prefix="forecourt-demo-", dir=scratch_dir())) if self.owns_dir else options.data_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.urls = Urls()
        self.broker: Mosquitto | None = None
        self.collector: subprocess.Popen[bytes] | None = None
        self.stations: list[SimulatedStation] = []
        self.stop_event = threading.Event()
        self._live: threading.Thread | None = None
        self._stopped = False
        self.history_start = time.time()

    # -- up --------------------------------------------------------------------------------------------

    def start(self) -> Urls:
        """Broker, collector and fleet, ready for a browser; history is still back-filling afterwards."""
        if (self.dir / "collector.db").exists() and self.options.days > 0:
            # Back-filling again would add a second, different history on top of the first.
            raise DemoError(f"{self.dir} already holds a demo's history; use --days 0 to carry on with it, or a new --data DIR")
        profiles = FLEET[: self.options.stations]
        if not self.options.camera:
            profiles = tuple(replace(p, camera=False) for p in profiles)
        passwords = {p.station: secrets.token_urlsafe(12) for p in profiles}
        passwords[COLLECTOR_USER] = secrets.token_urlsafe(16)
        self.broker = Mosquitto(
            self.dir / "broker", users=passwords, host=self.options.host, die_with_parent=True
        ).start()
        self.urls.mqtt = self.broker.url
        database = self.dir / "collector.db"
        (self.dir / "stations.csv").write_text(registry_csv(profiles))
        self._cli("stations", "import", str(self.dir / "stations.csv"), "--database", str(database))
        self.urls.token = self._cli("users", "add", DEMO_USER, "--role", "hq", "--force", "--database", str(database)).strip()
        self.history_start = start = time.time() - self.options.days * 86400
        port = free_port(self.options.host)
        self.urls.dashboard = f"http://{self.options.host}:{port}/"
        self._start_collector(database, passwords[COLLECTOR_USER], port)
        for index, profile in enumerate(profiles):
            config = station_config(
                profile, index, data_dir=self.dir / "stations", broker_url=self.broker.url, password=passwords[profile.station]
            )
            # A camera that cannot start is the service's business: it runs on without vision and says why.
            self.stations.append(SimulatedStation(profile, config, start=start, seed=self.options.seed).start())
        return self.urls

    def backfill(self, progress: Callable[[Step], None] = lambda step: None) -> float:
        """Play history up to now for every station (in parallel: outbox fsyncs overlap); returns seconds.

        ``progress`` hears every :data:`PROGRESS_S` how much of the history the stations have played: the
        mean of their simulated clocks' way from the history's start to now."""
        began = time.monotonic()
        now = time.time()
        days = self.options.days
        unit = "day" if days == 1 else "days"

        def played() -> float:
            span = max(1e-9, now - self.history_start)
            return sum(min(1.0, (s.clock() - self.history_start) / span) for s in self.stations) / max(1, len(self.stations))

        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="backfill") as pool:
            futures = [pool.submit(s.replay, now, stop=self.stop_event) for s in self.stations]
            while wait(futures, timeout=PROGRESS_S).not_done:
                progress(Step("back-fill", played(), f"{played() * days:.1f} of {days:g} {unit}"))
            for future in futures:
                future.result()
        progress(Step("back-fill", 1.0, f"{days:g} of {days:g} {unit}"))
        took = time.monotonic() - began
        log.info("back-filled %g days for %d stations in %.1f s", self.options.days, len(self.stations), took)
        return took

    def wait_for_hq(self, timeout: float, progress: Callable[[Step], None] = lambda step: None) -> bool:
        """Until HQ has stored every row the back-fill left in the outboxes, then rolled up every hour before
        this one; False when ``timeout`` seconds passed first (or the demo is stopping). Once the backlog is
        gone it is not waited for again: the camera station keeps adding a few live rows."""
        deadline = time.monotonic() + timeout
        totals: dict[str, int] = {}
        delivered = False
        while not self.stop_event.is_set():
            backlog = 0 if delivered else sum(s.service.outbox.stats().depth for s in self.stations)
            delivered = delivered or not backlog
            if not delivered:
                total = totals.setdefault("rows", backlog) or backlog
                progress(Step("delivery to HQ", 1 - backlog / max(total, backlog), f"{backlog:,} rows to go"))
            else:
                hours = self._unrolled_hours()
                total = totals.setdefault("hours", hours) or 1
                progress(Step("rollups", 1 - hours / max(total, hours), f"{hours:,} station-hours to go"))
                if not hours:
                    return True
            if time.monotonic() > deadline:
                return False
            self.stop_event.wait(PROGRESS_S)
        return False

    def _unrolled_hours(self) -> int:
        """Station-hours before the current one that the collector has yet to roll up."""
        current = time.strftime("%Y-%m-%dT%H", time.gmtime())
        try:
            with contextlib.closing(sqlite3.connect(self.dir / "collector.db", timeout=5)) as db:
                return db.execute("SELECT count(*) FROM dirty WHERE hour < ?", [current]).fetchone()[0]
        except sqlite3.Error:  # busy past the timeout: say "some", ask again
            return 1

    def go_live(self) -> None:
        for station in self.stations:
            station.go_live()
        self._live = threading.Thread(target=self._live_loop, name="demo-live", daemon=True)
        self._live.start()

    def _live_loop(self) -> None:
        while not self.stop_event.wait(LIVE_STEP_S):
            now = time.time()
            for station in self.stations:
                try:
                    station.advance(now)
                except Exception:  # one station's bug must not freeze the rest of the fleet
                    log.exception("station %s: live step failed", station.profile.station)

    def _cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "forecourt", *args], capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode != 0:
            raise DemoError(f"forecourt {' '.join(args[:2])} failed: {result.stderr.strip()[-800:]}")
        return result.stdout

    def _start_collector(self, database: Path, password: str, port: int) -> None:
        config = self.dir / "collector.toml"
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds a password
        with os.fdopen(fd, "w") as f:
            f.write(
                f'[mqtt]\nurl = "{self.broker.url}"\nusername = "{COLLECTOR_USER}"\npassword = "{password}"\n'
                f'client_id = "forecourt-demo-collector"\n\n[database]\npath = "{database}"\n\n'
                f'[http]\nlisten = "{self.options.host}:{port}"\n\n'
                f"[ingest]\nrollup_interval_s = {self.options.rollup_interval_s}\n"
            )
        logfile = open(self.dir / "collector.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.collector = subprocess.Popen(
            [sys.executable, "-m", "forecourt", "collector", "--config", str(config)],
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent(),
        )
        logfile.close()
        self._wait_for_api(timeout=60)

    def _wait_for_api(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        request = urllib.request.Request(
            f"{self.urls.dashboard}api/v1/me", headers={"Authorization": f"Bearer {self.urls.token}"}
        )
        while time.monotonic() < deadline:
            if self.collector.poll() is not None:
                raise DemoError(f"the collector exited ({self.collector.returncode}): {self._collector_log()}")
            with contextlib.suppress(OSError, urllib.error.URLError), urllib.request.urlopen(request, timeout=2) as answer:
                if answer.status == 200:
                    return
            time.sleep(0.2)
        raise DemoError(f"the collector's API did not answer within {timeout:.0f} s: {self._collector_log()}")

    def _collector_log(self) -> str:
        path = self.dir / "collector.log"
        return path.read_text(errors="replace")[-1500:] if path.exists() else ""

    # -- down ------------------------------------------------------------------------------------------

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.stop_event.set()
        if self._live is not None:
            self._live.join(10)
        for station in self.stations:
            try:
                station.stop()
            except Exception:
                log.exception("stopping station %s failed", station.profile.station)
        if self.collector is not None and self.collector.poll() is None:
            self.collector.send_signal(signal.SIGTERM)
            try:
                self.collector.wait(20)
            except subprocess.TimeoutExpired:
                log.warning("the collector did not stop within 20 s; killing it")
                self.collector.kill()
                self.collector.wait(10)
        if self.broker is not None:
            self.broker.stop()
        if self.owns_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Demo":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
