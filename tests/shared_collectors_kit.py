"""Two ``forecourt collector`` processes on one PostgreSQL database, for ``tests/test_collectors_shared.py``.

Orchestration and reading, no assertions: :class:`SharedFleet` runs Chaos's broker and stations with two
named collectors; the API helpers read their stations and /metrics; :func:`compare_rollups` rolls a copy of
the shared rows up in a fresh database with one collector's job code and compares the two row by row.
"""
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cloud.config import FollowupSettings, GoalSettings
from cloud.database import Database, connect
from cloud.fleet_store import chain_goals
from cloud.rollups import RUNNING_LOOKAHEAD, run_rollups
from cloud.store import ROLLUP_JSON, open_db, writing
from forecourt import children
from forecourt.broker import free_port, wait_for_port
from forecourt.protocol import format_ts, parse_ts
from tests.chaos_kit import Chaos

NAMES = ("collector-a", "collector-b")  # broker users, client ids and PostgreSQL application names
BAD_AT_MOST = FollowupSettings().bad_at_most.by_scale()[5]  # the stations rate 1 + seq % 5 on a 5-button kiosk
COPIED = ("stations", "events", "health", "status_log")  # what compute_hour() reads, and the rows take_station() holds
ROLLED_UP = re.compile(r"rolled up (\d+) station-hours; (\d+) alert\(s\), (\d+) follow-up\(s\) opened")
SAMPLE = re.compile(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$", re.MULTILINE)


class SharedFleet(Chaos):
    """Chaos's broker and station processes, with two collectors on one PostgreSQL instead of one on SQLite."""

    def __init__(self, workdir: Path, database: str, **kwargs) -> None:
        super().__init__(workdir, collectors=NAMES, **kwargs)
        self.database = database
        self.ports = {name: free_port() for name in NAMES}
        self.collectors: dict[str, subprocess.Popen] = {}
        self.db: Database | None = None

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def _toml(self, name: str) -> Path:
        path = self.workdir / f"{name}.toml"
        path.write_text(
            f'[mqtt]\nurl = "{self.broker.url}"\nusername = "{name}"\npassword = "{self.broker.users[name]}"\n'
            f'client_id = "{name}"\nshare_group = "{self.share_group}"\n'
            f'[database]\nurl = "{self.database}"\n'
            f'[http]\nlisten = "127.0.0.1:{self.ports[name]}"\n'
            # Rollups and fleet jobs every second, so both collectors run them many times before the kill.
            f"[ingest]\nbatch_size = 200\nbatch_wait_ms = 5\nrollup_interval_s = 1.0\n"
        )
        return path

    def start_named(self, name: str) -> None:
        """Start collector ``name`` and wait for its API (it listens once it has subscribed)."""
        env = {**self._env(), "PGAPPNAME": name}  # libpq names its sessions: pg_stat_activity tells them apart
        self.collectors[name] = subprocess.Popen(
            [self.python, "-m", "forecourt", "collector", "--config", str(self._toml(name))],
            cwd=self.root, env=env, stdout=subprocess.DEVNULL,
            stderr=open(self.log(name), "ab"),  # noqa: SIM115 - lives with the process
            start_new_session=True, preexec_fn=children.die_with_parent(),
        )
        try:
            wait_for_port("127.0.0.1", self.ports[name], timeout=30)
        except Exception as err:
            raise RuntimeError(f"{name} did not start: {self.log(name).read_text(errors='replace')[-1500:]}") from err

    def kill_named(self, name: str) -> None:
        """kill -9 the collector and its ingest worker at once, as a host that dies takes both."""
        process = self.collectors[name]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the group: the worker too, even if the main process is gone
        process.wait(10)

    def drain(self, since: float, notes: list[str]) -> float | None:
        """Seconds from ``since`` until every station exited 0 and every event is stored (Chaos's bounded wait)."""
        return self._drain(since, notes)

    def stop_named(self, name: str) -> bool:
        """SIGTERM, as systemd stops it; whether it exited within 20 s."""
        process = self.collectors[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            return False
        return True

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.db is None:
            self.db = connect(self.database)
        return self.db.execute(sql, params).fetchall()

    def stored(self) -> int:
        return self.query("SELECT count(*) FROM events")[0][0]

    def sessions(self, name: str) -> int:
        return self.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?", (name,))[0][0]

    def close(self) -> None:
        for name in self.collectors:
            self.kill_named(name)
        if self.db is not None:
            self.db.close()
        super().close()


# -- the API ------------------------------------------------------------------------------------------------


def get(port: int, path: str, token: str) -> bytes:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=15) as response:
        return response.read()


def stations(port: int, token: str) -> list[dict]:
    return json.loads(get(port, "/api/v1/stations", token))


def registry_view(rows: list[dict]) -> list[tuple]:
    """What two collectors must agree on at any moment (last_seen and open alerts move with every batch)."""
    return [(r["id"], r["name"], r["region"], r["status"], r["version"], r["auto_registered"]) for r in rows]


def scrape(port: int, token: str) -> dict[str, float]:
    """This collector's /metrics, by series (``forecourt_ingest_messages_total{outcome="stored"}``): its own
    ingest counters since it started, and the broker's $SYS figures as it last heard them."""
    return {series: float(value) for series, value in SAMPLE.findall(get(port, "/metrics", token).decode())}


def ingested(figures: dict[str, float], outcome: str) -> int:
    return int(figures.get(f'forecourt_ingest_messages_total{{outcome="{outcome}"}}', 0))


def add_user(database: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "forecourt", "users", "add", "tester", "--role", "hq", "--database", database],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def complaints(log: Path) -> list[str]:
    """Lines at WARNING or above, and tracebacks: a deadlock or a failed batch is logged and retried, not raised."""
    return [line for line in log.read_text(errors="replace").splitlines()
            if line.startswith(("WARNING", "ERROR", "CRITICAL", "Traceback"))]


def job_runs(log: Path) -> list[tuple[int, int, int]]:
    """(station-hours, alerts, follow-ups) of every job run the collector logged (runs that did nothing log nothing)."""
    return [tuple(map(int, m)) for m in ROLLED_UP.findall(log.read_text(errors="replace"))]


# -- the reference: one collector's job code over a copy of the same rows -------------------------------------


def copy_rows(source: Database, target: Database, table: str) -> int:
    cursor = source.execute(f"SELECT * FROM {table}")
    columns = [c.name for c in cursor.description]
    rows = cursor.fetchall()
    target.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)
    return len(rows)


def mark_as_ingest_does(db: Database) -> int:
    """The station-hours ingest marks dirty for these rows (cloud/ingest.py): each event's and status change's
    hour, and each health sample's hour and the hour its uptime reaches back into (at most an hour)."""
    marks = {(s, ts[:13]) for s, ts in db.execute("SELECT station, ts FROM events")}
    marks |= {(s, at[:13]) for s, at in db.execute("SELECT station, at FROM status_log")}
    for station, ts, uptime in db.execute("SELECT station, ts, payload ->> 'uptime_s' FROM health").fetchall():
        since = parse_ts(ts) - timedelta(seconds=min(float(uptime), RUNNING_LOOKAHEAD.total_seconds()))
        marks |= {(station, ts[:13]), (station, format_ts(since)[:13])}
    db.executemany("INSERT INTO dirty (station, hour) VALUES (?, ?)", sorted(marks))
    return len(marks)


def rollup_rows(db: Database) -> list[dict]:
    cursor = db.execute("SELECT * FROM rollups ORDER BY period, bucket, station")
    columns = [c.name for c in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def row_keys(rows: list[dict]) -> list[tuple[str, str, str]]:
    return [(r["period"], r["bucket"], r["station"]) for r in rows]


def relative_difference(a: object, b: object) -> float:
    """0 for equal values; for numbers how far apart relative to their size, else infinity."""
    if a == b:
        return 0.0
    if isinstance(a, float | int) and isinstance(b, float | int):
        return abs(a - b) / max(1.0, abs(a), abs(b))
    return float("inf")


def row_differences(shared: dict, reference: dict) -> dict[str, float]:
    """Each column that differs, with how much (:func:`relative_difference`; JSON columns per key)."""
    out = {}
    for column, want in reference.items():
        got = shared.get(column)
        if column in ROLLUP_JSON:
            got, want = json.loads(got), json.loads(want)
            keys = got.keys() | want.keys()
            apart = max((relative_difference(got.get(k), want.get(k)) for k in keys), default=0.0)
        else:
            apart = relative_difference(got, want)
        if apart:
            out[column] = apart
    return out


# Day and month rows are folded in hour by hour (base + new hour - old hour, cloud/figures.py shift), so
# their float sums keep the rounding of every step: a collector that recomputes the current hour every
# run, as one alone does too, ends a few ulps away from one fold of the final hour. Hour rows are computed
# whole from the rows: they must be identical.
FOLDED_TOLERANCE = 1e-9


@dataclass
class RollupComparison:
    before: int  # rollup rows the collectors had stored before the final run
    settled: int  # of which hour rows the final run did not recompute: the collectors' work, compared as they left it
    finished: int  # station-hours the final run recomputed on the shared database
    copied: dict[str, int]  # rows copied into the reference, per table
    marked: int  # station-hours marked dirty there
    computed: int  # station-hours the reference's run computed
    shared: list[dict]
    reference: list[dict]
    pending: tuple[list, list]  # dirty marks left in each: the hours not over at ``now``
    poisoned: tuple[int, int]

    def differences(self) -> list[str]:
        """Rows that differ beyond what folding explains."""
        out = []
        for got, want in zip(self.shared, self.reference, strict=False):
            allowed = 0.0 if want["period"] == "hour" else FOLDED_TOLERANCE
            out += [f"{want['period']} {want['bucket']} {want['station']} {column}: {got[column]!r} != {want[column]!r}"
                    for column, apart in row_differences(got, want).items() if apart > allowed]
        return out

    def largest_difference(self) -> float:
        pairs = zip(self.shared, self.reference, strict=False)
        return max((max(row_differences(g, w).values(), default=0.0) for g, w in pairs), default=0.0)

    def not_identical(self) -> int:
        return sum(g != w for g, w in zip(self.shared, self.reference, strict=False))


def compare_rollups(shared_url: str, reference_url: str, now: datetime) -> RollupComparison:
    """Finish the shared database's rollups at ``now``; copy its rows into the empty reference database, mark
    them as ingest would, and roll them up there at the same ``now`` with the same job code."""
    shared, reference = open_db(shared_url), open_db(reference_url)
    try:
        before = shared.execute("SELECT count(*) FROM rollups").fetchone()[0]
        marked_before = set(shared.execute("SELECT station, hour FROM dirty").fetchall())
        settled = sum((station, bucket) not in marked_before for station, bucket in
                      shared.execute("SELECT station, bucket FROM rollups WHERE period = 'hour'").fetchall())
        goals = chain_goals(shared, GoalSettings())  # what the collectors' jobs judged by
        finished = run_rollups(shared, now, goals)
        with writing(reference):
            copied = {table: copy_rows(shared, reference, table) for table in COPIED}
            marked = mark_as_ingest_does(reference)
        computed = run_rollups(reference, now, goals)
        both = (shared, reference)
        pending = tuple(db.execute("SELECT station, hour FROM dirty ORDER BY station, hour").fetchall() for db in both)
        poisoned = tuple(db.execute("SELECT count(*) FROM poison_hours").fetchone()[0] for db in both)
        return RollupComparison(before, settled, finished, copied, marked, computed, rollup_rows(shared),
                                rollup_rows(reference), pending, poisoned)
    finally:
        shared.close()
        reference.close()


def bad_ratings(fleet: SharedFleet) -> Counter:
    """Bad ratings per station and day (the follow-up's station-local day: these stations keep the UTC default)."""
    bad: Counter = Counter()
    for station, ts, payload in fleet.query("SELECT station, ts, payload FROM events WHERE kind = 'rating'"):
        if json.loads(payload)["score"] <= BAD_AT_MOST:
            bad[(station, ts[:10])] += 1
    return bad
