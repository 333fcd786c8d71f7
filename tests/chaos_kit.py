"""A fleet under fire, with real processes only: one Mosquitto, N station processes and ``forecourt collector``.

Orchestration and counting, no assertions: :class:`Chaos` runs a :class:`Schedule` of kill -9 faults and
returns an :class:`Outcome` counted straight from the collector's SQLite file (tests/chaos_counts.py). Used by
``tests/test_chaos.py`` (a compressed schedule) and ``bench/chaos.py`` (the full one).

- Faults fire on progress, not on wall time: a step at ``0.3`` fires once 30 % of all events are committed
  in the stations' outboxes, so a busy machine shifts the schedule in time, not in shape. Committed
  progress is read from each outbox's ``meta`` row, which survives a station's kill and restart.
- Every wait is bounded; every process is killed in ``finally`` (and dies with us if we are killed:
  PR_SET_PDEATHSIG). Loopback only.
- A station process emits ratings, paced, until its outbox's ``last_seq`` reaches the target (a restarted
  station goes on where the killed one stopped), then waits until its outbox holds no event and exits 0
  (3 if it could not drain within its own deadline).
"""

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from forecourt import children
from forecourt.broker import Mosquitto, free_port, wait_for_port
from tests.chaos_counts import (  # noqa: F401 - REDELIVERIES_SQL, STORED_SQL, count_rows: importers use them from here
    REDELIVERIES_SQL,
    STORED_SQL,
    FaultRecord,
    Outcome,
    StationCount,
    count_rows,
    count_stored,
)
from tests.chaos_schedule import Schedule, Step
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]

STATION = """
import sys, time
from edge.config import load_station_config
from tests.drafting import draft
from edge.service import EdgeService
path, target, rate, drain_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
options = dict(arg.split("=", 1) for arg in sys.argv[5:])
health = options.get("health") == "1"  # sample health on the config's [health] schedule while emitting
span_s = float(options.get("span_s", 0))  # stamp the first event this long ago, the last one now
service = EdgeService(load_station_config(path)).start()
outbox = service.outbox
seq = outbox.stats().last_seq  # a restarted station goes on where the killed one stopped
start, emitted = time.monotonic(), 0
while seq < target:
    at = time.time() - span_s * (1 - (seq + 1) / target)
    event = outbox.store(draft("rating", at, {"kiosk": "shop", "score": 1 + seq % 5, "scale": 5}))
    if event is None:  # the outbox is full: never at this size
        sys.exit(4)
    seq, emitted = event.seq, emitted + 1
    if health:
        service.tick()
    pause = start + emitted / rate - time.monotonic()
    if pause > 0:
        time.sleep(pause)
deadline = time.monotonic() + drain_s
while outbox.stats().events and time.monotonic() < deadline:
    time.sleep(0.05)
drained = outbox.stats().events == 0
service.stop()
sys.exit(0 if drained else 3)
"""


# -- the harness ------------------------------------------------------------------------------------------


class Chaos:
    """One broker, ``stations`` station processes and one collector process in ``workdir``.

    ``keep_until`` / ``resend_after_s`` are written into each station's ``[outbox]`` only when given,
    so the harness also drives code from before those keys existed. With ``health_s`` stations also send
    a health sample that often while they emit; with ``span_s`` their events are stamped from that long
    ago up to now, as an outbox replaying history sends them. ``collectors`` are the broker's
    collector-class users (password ``pw-<name>``); this class runs the first, a subclass may run more.
    """

    def __init__(
        self, workdir: Path, *, stations: int = 10, events: int = 1000, rate: float = 40.0, share_group: str = "forecourt",
        keep_until: str | None = None, resend_after_s: float | None = None, step_timeout: float = 60.0,
        drain_timeout: float = 90.0, settle_s: float = 5.0, python: str = sys.executable, root: Path = ROOT,
        collectors: tuple[str, ...] = ("collector",), health_s: float | None = None, span_s: float = 0.0,
    ) -> None:
        self.workdir = Path(workdir)
        self.events, self.rate, self.share_group = events, rate, share_group
        self.keep_until, self.resend_after_s = keep_until, resend_after_s
        self.health_s, self.span_s = health_s, span_s
        self.step_timeout, self.drain_timeout, self.settle_s = step_timeout, drain_timeout, settle_s
        self.python, self.root = python, root
        self.ids = [f"st{i:02d}" for i in range(stations)]
        users = {c: f"pw-{c}" for c in collectors} | {s: f"pw-{s}" for s in self.ids}
        self.broker = Mosquitto(self.workdir / "broker", users=users, collectors=collectors, die_with_parent=True)
        self.db_path = self.workdir / "collector.db"
        self.http_port = free_port()
        self.stations: dict[str, subprocess.Popen] = {}
        self.collector: subprocess.Popen | None = None
        self._broker_up_at = 0.0
        self._committed = dict.fromkeys(self.ids, 0)
        self._t0 = 0.0

    # -- processes ---------------------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "PYTHONPATH": str(self.root), "FORECOURT_LOG_LEVEL": "INFO"}
        env.pop("NOTIFY_SOCKET", None)
        return env

    def _station_toml(self, station: str) -> Path:
        path = self.workdir / f"{station}.toml"
        outbox = f'path = "{self.workdir / f"{station}-outbox.db"}"\n'
        if self.keep_until is not None:
            outbox += f'keep_until = "{self.keep_until}"\n'
        if self.resend_after_s is not None:
            outbox += f"resend_after_s = {self.resend_after_s}\n"
        path.write_text(
            f'[station]\nid = "{station}"\n'
            f'[mqtt]\nurl = "{self.broker.url}"\npassword = "{self.broker.users[station]}"\n'
            f"reconnect_min_s = 0.05\nreconnect_max_s = 0.3\n"
            f"[outbox]\n{outbox}" + ("" if self.health_s is None else f"[health]\ninterval_s = {self.health_s}\n")
        )
        return path

    def start_station(self, station: str) -> None:
        self.stations[station] = subprocess.Popen(
            [self.python, "-c", STATION, str(self._station_toml(station)), str(self.events), str(self.rate),
             str(self.drain_timeout), f"health={int(self.health_s is not None)}", f"span_s={self.span_s}"],
            cwd=self.root, env=self._env(), stdout=subprocess.DEVNULL,
            stderr=open(self.workdir / f"{station}.log", "ab"),  # noqa: SIM115 - lives with the process
            preexec_fn=children.die_with_parent(),
        )

    def _collector_toml(self) -> Path:
        path = self.workdir / "collector.toml"
        path.write_text(
            f'[mqtt]\nurl = "{self.broker.url}"\nusername = "collector"\npassword = "{self.broker.users["collector"]}"\n'
            f'client_id = "chaos-collector"\nshare_group = "{self.share_group}"\n'
            f'[database]\npath = "{self.db_path}"\n'
            f'[http]\nlisten = "127.0.0.1:{self.http_port}"\n'
            f"[ingest]\nbatch_size = 200\nbatch_wait_ms = 5\n"
        )
        return path

    def start_collector(self, attempts: int = 3) -> None:
        """Start ``forecourt collector`` and wait for its API (it listens once it has subscribed)."""
        log = self.workdir / "collector.log"
        for _ in range(attempts):
            self.collector = subprocess.Popen(
                [self.python, "-m", "forecourt", "collector", "--config", str(self._collector_toml())],
                cwd=self.root, env=self._env(), stdout=subprocess.DEVNULL,
                stderr=open(log, "ab"),  # noqa: SIM115 - lives with the process
                start_new_session=True, preexec_fn=children.die_with_parent(),
            )
            with contextlib.suppress(Exception):
                wait_for_port("127.0.0.1", self.http_port, timeout=30)
                return
            self._kill(self.collector, group=True)
        raise RuntimeError(f"the collector did not start: {log.read_text(errors='replace')[-1500:]}")

    def kill_broker(self) -> None:
        kill = getattr(self.broker, "kill", None)
        if kill is not None:
            kill()
        elif self.broker.process is not None:
            self._kill(self.broker.process)

    def start_broker(self) -> None:
        self.broker.start()
        self._broker_up_at = time.monotonic()

    @staticmethod
    def _kill(process: subprocess.Popen | None, *, group: bool = False) -> None:
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.send_signal(signal.SIGKILL)
        process.wait(10)

    # -- progress ------------------------------------------------------------------------------------------

    def committed(self) -> dict[str, int]:
        """Each station's last committed seq, from its outbox (the last value read if it cannot be read now)."""
        for station in self.ids:
            path = self.workdir / f"{station}-outbox.db"
            if not path.exists():
                continue
            with contextlib.suppress(sqlite3.Error):
                with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as db:
                    row = db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
                if row:
                    self._committed[station] = max(self._committed[station], int(row[0]))
        return dict(self._committed)

    def share(self) -> float:
        return sum(self.committed().values()) / (self.events * len(self.ids))

    def stored(self) -> int:
        if not self.db_path.exists():
            return 0
        uri = f"file:{self.db_path}?mode=ro"
        with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
            return db.execute("SELECT count(*) FROM events").fetchone()[0]
        return -1

    def _wait(self, predicate, timeout: float, poll: float = 0.05) -> bool:
        return wait_until(predicate, timeout, poll)

    # -- the run -------------------------------------------------------------------------------------------

    def run(self, schedule: Schedule) -> Outcome:
        """Start everything, play the schedule, wait for the drain, count; kill everything in any case."""
        notes: list[str] = []
        faults: list[FaultRecord] = []
        drain_s = None
        try:
            self.start_broker()
            self.start_collector()  # its persistent session exists before any station publishes
            self._t0 = time.monotonic()
            for station in self.ids:
                self.start_station(station)
            for step in schedule.steps():
                if not self._wait(lambda s=step: self.share() >= s.at, self.step_timeout):
                    notes.append(f"{step.action}@{step.at:.0%} fired late: only {self.share():.0%} committed after "
                                 f"{self.step_timeout:.0f} s")
                faults.append(self._play(step))
            last_fault = time.monotonic()
            drain_s = self._drain(last_fault, notes)
            self._stop_collector(notes)
            per_station, redeliveries = count_stored(self.db_path, self.ids, self.events)
            exits = {s: p.poll() for s, p in self.stations.items()}
            return Outcome(self.events * len(self.ids), per_station, redeliveries, faults, drain_s, exits,
                           time.monotonic() - self._t0, self.autosave_s(), notes)
        finally:
            self.close()

    def _play(self, step: Step) -> FaultRecord:
        if step.min_uptime_s:
            self._wait(lambda: time.monotonic() - self._broker_up_at >= step.min_uptime_s, step.min_uptime_s + 5)
        share, committed, t = self.share(), self.committed(), time.monotonic() - self._t0
        record = FaultRecord(step.action, step.at, share, t, committed)
        if step.action == "kill_broker":
            record = FaultRecord(step.action, step.at, share, t, committed, time.monotonic() - self._broker_up_at)
            self.kill_broker()
            time.sleep(step.down_s)  # how long it stays down; nothing waits on it for correctness
            self.start_broker()
        elif step.action == "kill_station":
            station = self.ids[step.station]
            record = FaultRecord(step.action, step.at, share, t, committed, target=station)
            self._kill(self.stations[station])
            time.sleep(step.down_s)
            self.start_station(station)
        elif step.action == "kill_collector":
            self._kill(self.collector)  # the main process only, as the OOM killer would; its worker sees EOF
        else:
            self.start_collector()
        return record

    def _drain(self, since: float, notes: list[str]) -> float | None:
        """Seconds from ``since`` until every station exited 0 and every event is stored, or None.

        Gives up early once every station has exited and the stored count has not moved for ``settle_s``
        (with ``keep_until = "puback"`` what was lost never comes); never waits past ``drain_timeout``.
        """
        expected = self.events * len(self.ids)
        deadline = since + self.drain_timeout
        last, moved = -1, time.monotonic()
        while time.monotonic() < deadline:
            exited = all(p.poll() is not None for p in self.stations.values())
            stored = self.stored()
            if exited and stored >= expected and all(p.returncode == 0 for p in self.stations.values()):
                return time.monotonic() - since
            if stored != last:
                last, moved = stored, time.monotonic()
            elif exited and time.monotonic() - moved > self.settle_s:
                notes.append(f"stopped waiting: every station exited and {stored:,} stored did not move for {self.settle_s:.0f} s")
                return None
            time.sleep(0.1)
        running = [s for s, p in self.stations.items() if p.poll() is None]
        notes.append(f"drain bound of {self.drain_timeout:.0f} s reached; still running: {running or 'none'}")
        return None

    def _stop_collector(self, notes: list[str]) -> None:
        if self.collector is None or self.collector.poll() is not None:
            notes.append("the collector was not running at the end")
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.collector.pid, signal.SIGTERM)
        try:
            self.collector.wait(20)
        except subprocess.TimeoutExpired:
            notes.append("the collector did not stop on SIGTERM within 20 s")

    def autosave_s(self) -> float | None:
        conf = (self.broker.directory / "mosquitto.conf").read_text()
        match = re.search(r"^autosave_interval\s+(\d+)", conf, re.MULTILINE)
        return float(match.group(1)) if match else None

    def close(self) -> None:
        for process in self.stations.values():
            self._kill(process)
        if self.collector is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.collector.pid, signal.SIGKILL)  # with its ingest worker
            self._kill(self.collector)
        with contextlib.suppress(Exception):
            self.kill_broker()
        self.broker.process = None
