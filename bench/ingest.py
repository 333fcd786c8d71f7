"""Collector throughput on SQLite and PostgreSQL, and ranking speed on both, in one run.

1. N simulated stations publish E events each (QoS 1) through a private Mosquitto on a free port
   while persistent sessions are away: a raw subscriber that only counts, and one share group per drain
   (so each drain finds the whole backlog queued): the SQLite collector, one PostgreSQL collector, and two
   PostgreSQL collectors sharing a group and one database (a durable private server on a free port).
2. The raw subscriber reconnects and drains its backlog: the broker's raw delivery rate (baseline).
3. Each drain in turn (real Subscriber + ingest child process + database) stores the same backlog:
   stored events/s, acknowledged after each commit. All consume an identical queue, so each ratio to raw
   compares like with like.
4. Rankings for S stations x D days of daily rollups on each backend, median of 3 runs.

    .venv/bin/python bench/ingest.py [--stations 50 --events 2000 --rank-stations 30000 --days 30]
                                     [--sqlite-only] [--profile DIR]

Targets: >= 10,000 stored events/s and ranking <= 1 s (issue 7); >= 70 % of raw (issue 16, which raised
issue 7's 50 %). The machine is shared, so figures are noisy; the ratio is the steadier number. The raw
subscriber PUBACKs as paho does, one write a message; the collector one write a batch (cloud/subscriber.py),
so it can store faster than the raw subscriber only counts.

--profile DIR runs the SQLite collector's drain under cProfile, each thread of its process (paho's network
thread, the writer, the acker) and the ingest child, and prints where each spent its time (wall clock: a
thread's waits show as the call it waited in); DIR keeps the .pstats files (``python -m pstats
DIR/ingest-child.pstats``). Profiling slows the Python-heavy side most: profiled rates are not the figures.
"""

import argparse
import contextlib
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest_ranking import bench_ranking  # noqa: E402

from cloud import worker as worker_module  # noqa: E402
from cloud.config import CollectorMqtt, IngestSettings  # noqa: E402
from cloud.store import open_db  # noqa: E402
from cloud.subscriber import Subscriber  # noqa: E402
from cloud.worker import ProcessIngestor  # noqa: E402
from forecourt.broker import Mosquitto  # noqa: E402
from forecourt.pgserver import PostgresServer  # noqa: E402
from forecourt.protocol import Rating, Visit, encode, format_ts  # noqa: E402


def payloads(station: str, count: int, now: datetime) -> list[tuple[str, bytes]]:
    out = []
    for seq in range(1, count + 1):
        at = now - timedelta(seconds=count - seq)
        ts = format_ts(at)
        if seq % 5:
            event = Rating(id=f"{station}-{seq:08d}", seq=seq, station=station, ts=ts, kiosk="k1",
                           location="shop", score=1 + seq % 5, scale=5)
        else:
            event = Visit(id=f"{station}-{seq:08d}", seq=seq, station=station, ts=ts, bay="bay1",
                          arrived_at=format_ts(at - timedelta(seconds=200)), stopped_at=format_ts(at - timedelta(seconds=190)),
                          greeted_at=format_ts(at - timedelta(seconds=170)), departed_at=ts, greet_s=20.0, dwell_s=200.0)
        out.append(encode(event))
    return out


def client(broker: Mosquitto, user: str, client_id: str = "", persistent: bool = False) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTProtocolVersion.MQTTv5)
    c.username_pw_set(user, broker.users[user])
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600 if persistent else 0
    connected = threading.Event()
    c.on_connect = lambda *_a: connected.set()
    c.connect(broker.host, broker.port, keepalive=60, clean_start=not persistent, properties=props)
    c.loop_start()
    if not connected.wait(10):
        raise TimeoutError(f"{user}: no CONNACK")
    return c


def publish_all(broker: Mosquitto, stations: dict[str, list[tuple[str, bytes]]]) -> float:
    start = time.perf_counter()

    def run(station: str, messages: list[tuple[str, bytes]]) -> None:
        c = client(broker, station)
        infos = [c.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(60)
        c.disconnect()
        c.loop_stop()

    threads = [threading.Thread(target=run, args=item) for item in stations.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def raw_session(broker: Mosquitto, total: int | None) -> float | None:
    """Create (total=None) or drain the counting subscriber's session; returns seconds to drain."""
    got = [0]
    done = threading.Event()

    def on_message(_c, _u, _m) -> None:
        got[0] += 1
        if total is not None and got[0] >= total:
            done.set()

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw", protocol=mqtt.MQTTProtocolVersion.MQTTv5)
    c.username_pw_set("counter", broker.users["counter"])
    c.on_message = on_message
    subscribed = threading.Event()
    c.on_subscribe = lambda *_a: subscribed.set()
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 65535  # as the collector asks, so both consume under the same flow control
    start = time.perf_counter()
    c.connect(broker.host, broker.port, keepalive=60, clean_start=False, properties=props)
    c.loop_start()
    if total is None:
        c.subscribe("forecourt/v1/+/event/+", qos=1)
        subscribed.wait(10)
        c.disconnect()
        c.loop_stop()
        return None
    if not done.wait(600):
        raise TimeoutError(f"raw subscriber got {got[0]} of {total}")
    elapsed = time.perf_counter() - start
    c.disconnect()
    c.loop_stop()
    return elapsed


@dataclass(frozen=True)
class Drain:
    """One way of storing the backlog: ``collectors`` processes in one share group on ``database``."""

    label: str
    database: str | Path
    users: tuple[str, ...]  # one broker user (= client id) per collector

    @property
    def group(self) -> str:
        return self.users[0]  # a group of its own: every drain gets the whole backlog


def collector(broker: Mosquitto, database: str | Path, user: str, group: str) -> Subscriber:
    settings = CollectorMqtt(url=broker.url, username=user, password=broker.users[user], client_id=user,
                             share_group=group)
    # As the service runs it: validation and storage in a child process (ingest.worker_process), started
    # before the clock runs, as a long-running collector's would be.
    worker = ProcessIngestor(database).start()
    return Subscriber(settings, IngestSettings(), lambda: worker)


PROFILE_DIR = "FORECOURT_BENCH_PROFILE"  # inherited by the spawned ingest child
_original_serve = worker_module._serve


def _profiled_serve(*args) -> None:
    """The ingest child's loop under cProfile (spawn finds this function by re-importing this module there)."""
    profile = cProfile.Profile()
    try:
        profile.runcall(worker_module._serve, *args)
    finally:
        profile.dump_stats(Path(os.environ[PROFILE_DIR]) / "ingest-child.pstats")


class ThreadProfiles:
    """A cProfile per thread started while it is installed: each new thread's first event starts its own."""

    def __init__(self) -> None:
        self.profiles: dict[str, cProfile.Profile] = {}

    def _start(self, *_event) -> None:
        sys.setprofile(None)
        profile = self.profiles[threading.current_thread().name] = cProfile.Profile()
        profile.enable()

    def install(self) -> None:
        threading.setprofile(self._start)

    def uninstall(self) -> None:
        threading.setprofile(None)


def print_profiles(directory: Path, threads: ThreadProfiles) -> None:
    stats = {}
    for name, profile in threads.profiles.items():
        stats[f"collector thread {name}"] = stat = pstats.Stats(profile)
        stat.dump_stats(directory / f"thread-{name}.pstats")
    child = directory / "ingest-child.pstats"
    for _ in range(100):  # the child writes its file as it exits, after the pipe closed
        if child.exists():
            break
        time.sleep(0.05)
    stats["ingest child"] = pstats.Stats(str(child))
    for name, stat in stats.items():
        print(f"\n===== {name}: {stat.total_tt:.2f} s profiled", flush=True)  # type: ignore[attr-defined]
        stat.sort_stats("tottime").print_stats(12)


def bench_ingest(
    n_stations: int, per_station: int, workdir: Path, drains: list[Drain], profile_dir: Path | None = None,
) -> tuple[float, dict[str, float]]:
    """Raw delivery and each drain's stored rate (events/s) over one backlog, which every session queued."""
    collectors = [user for drain in drains for user in drain.users]
    users = {"counter": "pw-r"} | {u: f"pw-{u}" for u in collectors} | {f"s{i:04d}": f"pw{i}" for i in range(n_stations)}
    now = datetime.now(UTC)
    messages = {f"s{i:04d}": payloads(f"s{i:04d}", per_station, now) for i in range(n_stations)}
    total = n_stations * per_station
    with Mosquitto(workdir / "broker", users=users, collectors=("counter", *collectors)) as broker:
        raw_session(broker, None)
        for drain in drains:
            open_db(drain.database).close()
            for user in drain.users:  # its session (shared subscription) stays: the broker queues for it
                collector(broker, drain.database, user, drain.group).start().stop()
        seconds = publish_all(broker, messages)
        print(f"published {total:,} events from {n_stations} stations in {seconds:.1f} s ({total / seconds:,.0f}/s)",
              flush=True)
        raw_s = raw_session(broker, total)
        rates = {}
        for index, drain in enumerate(drains):
            profiled = profile_dir is not None and index == 0
            rates[drain.label] = total / _drain(broker, drain, total, profile_dir if profiled else None)
            print(f"drained: {drain.label} {rates[drain.label]:,.0f}/s stored", flush=True)
    return total / raw_s, rates


def _drain(broker: Mosquitto, drain: Drain, total: int, profile_dir: Path | None) -> float:
    threads = ThreadProfiles()
    if profile_dir is not None:
        os.environ[PROFILE_DIR] = str(profile_dir)
        worker_module._serve = _profiled_serve  # ProcessIngestor starts its child on what this names
    subs = [collector(broker, drain.database, user, drain.group) for user in drain.users]
    start = time.perf_counter()
    if profile_dir is not None:
        threads.install()
    # The broker sends the backlog ahead of the SUBACK start() waits for: give it the drain's time, not 10 s,
    # and start a group's collectors together (one start() returns only once its share is mostly in).
    starting = [threading.Thread(target=sub.start, kwargs={"timeout": 600}) for sub in subs]
    for thread in starting:
        thread.start()
    for thread in starting:
        thread.join()
    threads.uninstall()
    deadline = time.monotonic() + 600
    while sum(sub.stored for sub in subs) < total and time.monotonic() < deadline:
        time.sleep(0.01)
    stored_s = time.perf_counter() - start
    for sub in subs:
        sub.stop()
    if profile_dir is not None:
        worker_module._serve = _original_serve
        print_profiles(profile_dir, threads)
    stored = sum(sub.stored for sub in subs)
    if stored != total:
        raise SystemExit(f"{drain.label}: stored {stored} of {total}")
    return stored_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stations", type=int, default=50)
    parser.add_argument("--events", type=int, default=2000, help="events per station")
    parser.add_argument("--rank-stations", type=int, default=30_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--sqlite-only", action="store_true", help="no PostgreSQL rows (a machine without the server)")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="profile the SQLite collector's drain into DIR")
    args = parser.parse_args()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="forecourt-bench-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        drains = [Drain("SQLite, one collector", work / "collector.db", ("sqlite",))]
        rank_targets = {"SQLite": work / "ranking.db"}
        if not args.sqlite_only:
            # Durable (fsync on), as a production server runs: the figures are the ones an operator would see.
            server = stack.enter_context(PostgresServer(durable=True))
            drains += [Drain("PostgreSQL, one collector", server.create_database("one"), ("pg-one",)),
                       Drain("PostgreSQL, two collectors", server.create_database("two"), ("pg-a", "pg-b"))]
            rank_targets["PostgreSQL"] = server.create_database("ranking")
        raw, stored = bench_ingest(args.stations, args.events, work, drains, args.profile)
        ranking = {name: bench_ranking(args.rank_stations, args.days, target) for name, target in rank_targets.items()}
    print(flush=True)
    print(f"{'measure':<42}{'value':>12}{'target':>12}  ok", flush=True)
    print(f"{'raw broker delivery (events/s)':<42}{raw:>12,.0f}{'baseline':>12}", flush=True)
    for label, rate in stored.items():
        print(f"{label + ' (stored/s)':<42}{rate:>12,.0f}{'>= 10,000':>12}  {'yes' if rate >= 10_000 else 'NO'}", flush=True)
        print(f"{'  stored / raw':<42}{rate / raw:>12.0%}{'>= 70%':>12}  {'yes' if rate / raw >= 0.7 else 'NO'}", flush=True)
    for name, times in ranking.items():
        median = statistics.median(times)
        print(f"{name + ' ranking, median of 3 (s)':<42}{median:>12.3f}{'<= 1.000':>12}  {'yes' if median <= 1 else 'NO'}"
              f"   (runs: {', '.join(f'{t:.3f}' for t in times)})", flush=True)


if __name__ == "__main__":  # spawn re-imports this module in the ingest child; main() must not run there
    main()
