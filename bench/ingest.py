"""Collector throughput and ranking speed, in one run.

1. N simulated stations publish E events each (QoS 1) through a private Mosquitto on a free port
   while two persistent sessions are away: a raw subscriber that only counts, and the collector.
2. The raw subscriber reconnects and drains its backlog: the broker's raw delivery rate (baseline).
3. The collector (real Subscriber + Ingestor + SQLite file) drains the same backlog: stored events/s,
   acknowledged after each commit. Both consume an identical queue, so the ratio compares like with like.
4. Rankings for S stations x D days of daily rollups, median of 3 runs.

    .venv/bin/python bench/ingest.py [--stations 50 --events 2000 --rank-stations 30000 --days 30]
                                     [--profile DIR]

Targets: >= 10,000 stored events/s and ranking <= 1 s (issue 7); >= 70 % of raw (issue 16, which raised
issue 7's 50 %). The machine is shared, so figures are noisy; the ratio is the steadier number. The raw
subscriber PUBACKs as paho does, one write a message; the collector one write a batch (cloud/subscriber.py),
so it can store faster than the raw subscriber only counts.

--profile DIR runs the collector's drain under cProfile, each thread of its process (paho's network
thread, the writer, the acker) and the ingest child, and prints where each spent its time (wall clock: a
thread's waits show as the call it waited in); DIR keeps the .pstats files (``python -m pstats
DIR/ingest-child.pstats``). Profiling slows the Python-heavy side most: profiled rates are not the figures.
"""

import argparse
import cProfile
import os
import pstats
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cloud import worker as worker_module  # noqa: E402
from cloud.config import CollectorConfig, CollectorMqtt, GoalSettings, IngestSettings  # noqa: E402
from cloud.figures import hour_row  # noqa: E402
from cloud.rankings import parse_period, rankings  # noqa: E402
from cloud.rollups import COLUMNS, apply_hour  # noqa: E402
from cloud.store import ROLLUP_JSON, ROLLUP_MAXES, open_db  # noqa: E402
from cloud.subscriber import Subscriber  # noqa: E402
from cloud.worker import ProcessIngestor  # noqa: E402
from forecourt.broker import Mosquitto  # noqa: E402
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


def collector(broker: Mosquitto, db_path: Path) -> Subscriber:
    settings = CollectorMqtt(url=broker.url, username="collector", password=broker.users["collector"],
                             client_id="bench-collector")
    # As the service runs it: validation and storage in a child process (ingest.worker_process), started
    # before the clock runs, as a long-running collector's would be.
    worker = ProcessIngestor(db_path).start()
    return Subscriber(settings, IngestSettings(), lambda: worker)


PROFILE_DIR = "FORECOURT_BENCH_PROFILE"  # inherited by the spawned ingest child


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


def bench_ingest(n_stations: int, per_station: int, workdir: Path, profile_dir: Path | None = None) -> tuple[float, float]:
    users = {"collector": "pw-c", "counter": "pw-r"} | {f"s{i:04d}": f"pw{i}" for i in range(n_stations)}
    now = datetime.now(UTC)
    messages = {f"s{i:04d}": payloads(f"s{i:04d}", per_station, now) for i in range(n_stations)}
    total = n_stations * per_station
    with Mosquitto(workdir / "broker", users=users, collectors=("collector", "counter")) as broker:
        db_path = workdir / "collector.db"
        open_db(db_path).close()
        raw_session(broker, None)
        first = collector(broker, db_path).start()
        first.stop()  # its session (shared subscription) stays: the broker queues for it
        seconds = publish_all(broker, messages)
        print(f"published {total:,} events from {n_stations} stations in {seconds:.1f} s ({total / seconds:,.0f}/s)",
              flush=True)
        raw_s = raw_session(broker, total)
        threads = ThreadProfiles()
        if profile_dir is not None:
            os.environ[PROFILE_DIR] = str(profile_dir)
            worker_module._serve = _profiled_serve  # ProcessIngestor starts its child on what this names
        sub = collector(broker, db_path)
        start = time.perf_counter()
        if profile_dir is not None:
            threads.install()
        # The broker sends the backlog ahead of the SUBACK start() waits for: give it the drain's time, not 10 s.
        sub.start(timeout=600)
        threads.uninstall()
        deadline = time.monotonic() + 600
        while sub.stored < total and time.monotonic() < deadline:
            time.sleep(0.01)
        stored_s = time.perf_counter() - start
        sub.stop()
        if sub.stored != total:
            raise SystemExit(f"collector stored {sub.stored} of {total}")
    if profile_dir is not None:
        print_profiles(profile_dir, threads)
    return total / raw_s, total / stored_s


def bench_ranking(n_stations: int, days: int, workdir: Path) -> list[float]:
    db = open_db(workdir / "ranking.db")
    rng = random.Random(7)
    start_day = datetime(2026, 11, 1, tzinfo=UTC)
    regions = [f"p{p}/c{c}" for p in range(10) for c in range(10)]
    with db.transaction():
        db.executemany("INSERT INTO stations (id, name, region) VALUES (?, ?, ?)",
                       [(f"st{i:05d}", f"Station {i}", regions[i % len(regions)]) for i in range(n_stations)])
    placeholders = ", ".join("?" * (len(COLUMNS) + 4))
    sql = f"INSERT INTO rollups (station, period, bucket, complete, {', '.join(COLUMNS)}) VALUES ({placeholders})"
    for d in range(days):
        bucket = (start_day + timedelta(days=d)).strftime("%Y-%m-%d")
        rows = []
        for i in range(n_stations):
            ratings = rng.randint(0, 80)
            values = {c: 0 for c in COLUMNS if c not in ROLLUP_JSON}
            values.update(ratings_n=ratings, happy_sum=ratings * rng.uniform(0.4, 0.95), bad_n=ratings * rng.uniform(0, 0.3),
                          online_s=86400 * rng.uniform(0.7, 1), overdue_s=rng.uniform(0, 7200), visits=200,
                          greet_eligible=200, greet_within_goal=rng.randint(120, 200))
            rows.append((f"st{i:05d}", "day", bucket, 1, *[values.get(c, "{}") for c in COLUMNS]))
        with db.transaction():
            db.executemany(sql, rows)
    # Month rows from the day rows with the same sums the job keeps (these rows' histograms are empty).
    sums = ", ".join(f"MAX({c})" if c in ROLLUP_MAXES else f"SUM({c})" for c in COLUMNS if c not in ROLLUP_JSON)
    plain = [c for c in COLUMNS if c not in ROLLUP_JSON]
    with db.transaction():
        db.execute(
            f"INSERT INTO rollups (station, period, bucket, complete, {', '.join(plain)}) "
            f"SELECT station, 'month', substr(bucket, 1, 7), 1, {sums} FROM rollups WHERE period = 'day' "
            "GROUP BY station, substr(bucket, 1, 7)"
        )
    # What the rollup job pays in the database per recomputed station-hour (hour, day and month rows),
    # on a sample, before the ranking is timed.
    sample = min(1000, n_stations)
    hour = hour_row([{"kind": "rating", "score": 4, "scale": 5}], [8.0], online_s=3600, overdue_s=0, goals=GoalSettings())
    last_day = start_day + timedelta(days=days - 1, hours=12)
    start = time.perf_counter()
    with db.transaction():
        for i in range(sample):
            apply_hour(db, f"st{i:05d}", format_ts(last_day)[:13], hour, last_day + timedelta(days=1))
    print(f"rollup job, database work per station-hour: {(time.perf_counter() - start) / sample * 1000:.2f} ms "
          f"(sample of {sample:,})", flush=True)
    config = CollectorConfig()
    period = parse_period("month", "2026-11", start_day + timedelta(days=days))
    times = []
    for _ in range(3):
        start = time.perf_counter()
        result = rankings(db, period, start_day + timedelta(days=days), config.score)
        times.append(time.perf_counter() - start)
    ranked = sum(r["rank"] is not None for r in result)
    print(f"ranking: {len(result):,} stations ({ranked:,} ranked) over {days} days of daily rollups", flush=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stations", type=int, default=50)
    parser.add_argument("--events", type=int, default=2000, help="events per station")
    parser.add_argument("--rank-stations", type=int, default=30_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--profile", type=Path, metavar="DIR", help="profile the collector's drain into DIR")
    args = parser.parse_args()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="forecourt-bench-") as tmp:
        raw, stored = bench_ingest(args.stations, args.events, Path(tmp), args.profile)
        print(f"drained the same backlog: raw subscriber {raw:,.0f}/s, collector {stored:,.0f}/s stored", flush=True)
        times = bench_ranking(args.rank_stations, args.days, Path(tmp))
    median = statistics.median(times)
    print(flush=True)
    print(f"{'measure':<34}{'value':>14}{'target':>14}  ok", flush=True)
    print(f"{'raw broker delivery (events/s)':<34}{raw:>14,.0f}{'baseline':>14}", flush=True)
    print(f"{'stored by the collector (events/s)':<34}{stored:>14,.0f}{'>= 10,000':>14}  "
          f"{'yes' if stored >= 10_000 else 'NO'}", flush=True)
    print(f"{'stored / raw':<34}{stored / raw:>14.0%}{'>= 70%':>14}  {'yes' if stored / raw >= 0.7 else 'NO'}", flush=True)
    print(f"{'ranking, median of 3 (s)':<34}{median:>14.3f}{'<= 1.000':>14}  {'yes' if median <= 1 else 'NO'}"
          f"   (runs: {', '.join(f'{t:.3f}' for t in times)})")


if __name__ == "__main__":  # spawn re-imports this module in the ingest child; main() must not run there
    main()
