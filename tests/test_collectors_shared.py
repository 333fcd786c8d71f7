"""Issue 16's acceptance: two ``forecourt collector`` processes on one PostgreSQL database, in one MQTT v5
shared-subscription group, each its own broker user, client id and HTTP port; 10 station processes send
10,000 events and one collector is killed with kill -9 (its ingest worker with it) at 40 % committed.

The killed collector stays down, as a dead host would. Its persistent session stays on the broker, which
goes on giving it its turn in the group (measured on Mosquitto 2.0.11: about half of what was sent after
the kill went into its queue), so the stations' resends are what bring that share in: an event the
survivor has not acknowledged is sent again after 1 s, until the survivor has stored it. Then:

1. every event is stored exactly once (each station seqs 1..1000, no duplicate, no gap left, no dead letter),
   and the survivor stored the rest while the killed collector had no session left in PostgreSQL;
2. the rollups, which both collectors computed concurrently during the run (a 1 s job interval; events
   stamped over the last 3 hours, so most hours are over and final when they compute them), equal those
   of one collector's job code run over a copy of the same rows in a fresh database, row by row;
3. the fleet-wide jobs ran in one collector at a time: every bad rating is listed on exactly one follow-up
   item and each station-day has one item (nothing in the schema forbids a second one: the advisory lock
   does); and the API answers on both collectors with the same stations, and on the survivor after the kill.

Faults fire on progress, every wait is bounded, nothing asserts on time, every process dies in ``finally``.
"""
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cloud.config import FollowupSettings, GoalSettings
from cloud.database import Database, connect
from cloud.fleet_store import chain_goals
from cloud.rollups import RUNNING_LOOKAHEAD, run_rollups
from cloud.store import ROLLUP_JSON, open_db, utc_now, writing
from forecourt import children
from forecourt.broker import free_port, wait_for_port
from forecourt.pgserver import database_name
from forecourt.protocol import format_ts, parse_ts
from tests.chaos_kit import REDELIVERIES_SQL, STORED_SQL, Chaos, count_rows
from tests.waiting import wait_until

STATIONS, EVENTS = 10, 1000
RATE = 40.0  # events/s per station: 25 s of emitting
KILL_AT = 0.4  # share of all events committed in the outboxes when the victim dies
NAMES = ("collector-a", "collector-b")  # broker users, client ids and PostgreSQL application names
VICTIM, SURVIVOR = NAMES
RESEND_S = 1.0  # the stations' resend_after_s (doubling up to 10x while HQ stays silent)
HEALTH_S = 2  # seconds between health samples: the rollups' online time from them is compared too
# Events stamped from 3 h ago up to now, as an outbox replaying history sends them: their hours are over
# while the collectors roll them up, so the hour rows compared are the ones the collectors computed
# concurrently during the run, not ones the final run recomputes (an hour not over stays marked).
SPAN_S = 3 * 3600.0
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


# -- the test -------------------------------------------------------------------------------------------------


def bad_ratings(fleet: SharedFleet) -> Counter:
    """Bad ratings per station and day (the follow-up's station-local day: these stations keep the UTC default)."""
    bad: Counter = Counter()
    for station, ts, payload in fleet.query("SELECT station, ts, payload FROM events WHERE kind = 'rating'"):
        if json.loads(payload)["score"] <= BAD_AT_MOST:
            bad[(station, ts[:10])] += 1
    return bad


def test_two_collectors_on_one_postgresql_store_every_event_once_through_a_kill(tmp_path, postgres_server, postgres_url):
    fleet = SharedFleet(tmp_path, postgres_url, stations=STATIONS, events=EVENTS, rate=RATE, keep_until="stored",
                        resend_after_s=RESEND_S, health_s=HEALTH_S, span_s=SPAN_S,
                        step_timeout=60.0, drain_timeout=120.0)
    reference_name = database_name("reference")
    notes: list[str] = []
    try:
        token = add_user(postgres_url)  # migrates the database before either collector opens it
        fleet.start_broker()
        for name in NAMES:
            fleet.start_named(name)  # both persistent sessions exist before any station publishes
        started = time.monotonic()
        for station in fleet.ids:
            fleet.start_station(station)

        views: dict[str, list[tuple]] = {}

        def agree() -> bool:
            views.update({name: registry_view(stations(fleet.ports[name], token)) for name in NAMES})
            return len(views[VICTIM]) == STATIONS and views[VICTIM] == views[SURVIVOR]

        assert wait_until(agree, 30, 0.5), f"the collectors' station lists differ: {views}"

        # The kill, on progress; then only the survivor is left to store anything.
        if not wait_until(lambda: fleet.share() >= KILL_AT, fleet.step_timeout):
            notes.append(f"kill fired late: only {fleet.share():.0%} committed after {fleet.step_timeout:.0f} s")
        assert fleet.sessions(VICTIM) > 0 and fleet.sessions(SURVIVOR) > 0, "PostgreSQL does not name their sessions"
        victim_figures = scrape(fleet.ports[VICTIM], token)  # its last word: a lower bound of what it stored
        share, stored_before = fleet.share(), fleet.stored()
        fleet.kill_named(VICTIM)
        killed_at, killed_utc = time.monotonic(), utc_now()
        assert wait_until(lambda: fleet.sessions(VICTIM) == 0, 30), "PostgreSQL still has the killed collector's sessions"
        stored_at_kill = fleet.stored()
        with pytest.raises(urllib.error.URLError):
            get(fleet.ports[VICTIM], "/api/v1/stations", token)
        assert [r[0] for r in registry_view(stations(fleet.ports[SURVIVOR], token))] == fleet.ids

        drain_s = fleet.drain(killed_at, notes)
        assert fleet.collectors[VICTIM].poll() is not None and fleet.sessions(VICTIM) == 0, "the killed collector came back"

        # The survivor's fleet jobs list the last bad ratings (the victim may have held their lock when it died).
        bad = bad_ratings(fleet)
        assert wait_until(lambda: fleet.query("SELECT count(*) FROM followup_ratings")[0][0] == sum(bad.values()), 30), (
            f"{fleet.query('SELECT count(*) FROM followup_ratings')[0][0]} of {sum(bad.values())} bad ratings listed")
        survivor_figures = scrape(fleet.ports[SURVIVOR], token)
        survivor_view = stations(fleet.ports[SURVIVOR], token)
        assert fleet.stop_named(SURVIVOR), "the survivor did not stop on SIGTERM"
        elapsed = time.monotonic() - started

        per_station = count_rows(fleet.query(STORED_SQL), fleet.ids, EVENTS)
        redeliveries = fleet.query(REDELIVERIES_SQL)[0][0]
        gaps = fleet.query("SELECT station, first_seq, last_seq FROM seq_gaps ORDER BY station, first_seq")
        dead = fleet.query("SELECT count(*) FROM dead_letters")[0][0]
        received = sorted(parse_ts(r) for (r,) in fleet.query("SELECT received_at FROM events"))
        items = Counter(fleet.query("SELECT station, day FROM followups"))
        alerts = fleet.query("SELECT rule, count(*) FROM alerts GROUP BY rule ORDER BY rule")
        runs = {name: job_runs(fleet.log(name)) for name in NAMES}
        logged = {name: complaints(fleet.log(name)) for name in NAMES}

        rollups = compare_rollups(postgres_url, postgres_server.create_database(reference_name), utc_now())
    finally:
        fleet.close()
        postgres_server.drop_database(reference_name)

    stored = sum(c.distinct for c in per_station.values())
    survivor_stored = ingested(survivor_figures, "stored")
    differences = rollups.differences()
    print(f"\nstored {stored:,} of {STATIONS * EVENTS:,} ({redeliveries:,} redeliveries skipped), run {elapsed:.1f} s")
    print(f"  kill -9 {VICTIM} at {share:.0%} committed (t={killed_at - started:.1f} s): {stored_before:,} stored; "
          f"{stored_at_kill:,} once its sessions were gone; drain {'-' if drain_s is None else f'{drain_s:.1f} s'}")
    print(f"  {VICTIM} stored {stored - survivor_stored:,} ({ingested(victim_figures, 'stored'):,} by its last /metrics), "
          f"{SURVIVOR} stored {survivor_stored:,} ({ingested(survivor_figures, 'duplicate'):,} duplicates skipped); "
          f"the last event stored {(received[-1] - killed_utc).total_seconds():.1f} s after the kill")
    held, away = (survivor_figures.get(f"forecourt_broker_{n}", -1) for n in ("messages_stored", "clients_disconnected"))
    print(f"  the broker at the end: {held:,.0f} messages held (the dead session's queue, retained ones included), "
          f"{away:.0f} sessions disconnected (as of its last $SYS)")
    for name in NAMES:
        print(f"  {name}: {len(runs[name])} job runs logged, {sum(r[0] for r in runs[name]):,} station-hours, "
              f"{sum(r[1] for r in runs[name])} alerts, {sum(r[2] for r in runs[name])} follow-up items opened")
    print(f"  rollups: {rollups.before} rows before the final run ({rollups.settled} hour rows settled by the collectors), "
          f"which recomputed {rollups.finished} station-hours; "
          f"reference: {rollups.copied} copied, {rollups.marked} marks, {rollups.computed} computed; "
          f"{len(rollups.reference)} rows compared, {rollups.not_identical()} not bit-identical "
          f"(largest relative difference {rollups.largest_difference():.1e})")
    print(f"  follow-ups: {sum(items.values())} items, {sum(bad.values())} bad ratings; alerts {alerts}")
    for line in notes + differences[:20] + [f"{n}: {line}" for n, lines in logged.items() for line in lines[:10]]:
        print("  " + line)

    assert logged == {name: [] for name in NAMES}, "a collector logged a failure (a batch or job run retried)"

    # 1. Every event stored exactly once, no gap left, nothing dead-lettered; the survivor alone stored the rest.
    assert stored == STATIONS * EVENTS
    assert all(c.distinct == EVENTS and not (c.duplicates or c.missing or c.unexpected) for c in per_station.values())
    assert gaps == [] and dead == 0
    assert {s: p.returncode for s, p in fleet.stations.items()} == dict.fromkeys(fleet.ids, 0), "a station did not drain"
    assert drain_s is not None
    assert stored_at_kill < stored and survivor_stored >= stored - stored_at_kill
    assert all(r["last_seen"] > format_ts(killed_utc) for r in survivor_view), "the survivor serves what it stored since"

    # 2. Both collectors rolled up during the run, and the result is one collector's over the same rows.
    assert all(any(hours for hours, _, _ in runs[name]) for name in NAMES), "a collector's jobs never rolled anything up"
    assert rollups.settled >= STATIONS, "no hour row the collectors computed is left to compare"
    assert row_keys(rollups.shared) == row_keys(rollups.reference)
    assert differences == []
    assert rollups.pending[0] == rollups.pending[1] and rollups.poisoned == (0, 0)

    # 3. Fleet-wide jobs one at a time: each bad rating listed once (waited for above), one item per station-day.
    assert items == Counter(dict.fromkeys(bad, 1))
