"""Press-to-HQ latency on loopback: a kiosk press on a real station until HQ's API shows the rating.

    .venv/bin/python bench/latency.py [--presses 200] [--rounds 10] [--hold-ms 150]

The chain, all real and all on 127.0.0.1: gpiozero ``MockFactory`` pins driven as a wire would (the pin
goes low with contact bounce, stays low for a hold, goes high) -> :class:`edge.service.EdgeService` in its
own ``run()`` loop (sensors, SQLite outbox with synchronous=FULL, publisher) -> a private Mosquitto with
the shipped ACL -> ``forecourt collector`` as a subprocess (MQTT ingest into SQLite, storage
acknowledgements, the HTTP API) -> a keep-alive HTTP client with a bearer token polling
``GET /api/v1/stations/<st>/events`` every 5 ms. Latency starts when the pin is first driven low and ends
when a response carrying the rating has been read.

Why the collector runs as a subprocess: HQ and a station never share an interpreter in production, and
an in-process collector would compete for this process's GIL with the station's publisher and the
pollers, inflating both sides. It also runs the real command with the config file as shipped (no
``[ingest]`` section: production's batching defaults, printed in the header).

Subject and baseline: two stations run side by side, identical but for ``outbox.keep_until`` -
``stored`` (the default: a row is kept until HQ's storage acknowledgement) and ``puback`` (the old
behaviour: deleted at the broker's PUBACK). Rounds of presses alternate between them (ABBA), one press
in flight at a time, each after a random pause so presses fall at every phase of the station's 0.25 s
tick and the publisher's 50 ms idle wait. Also timed: press -> outbox row committed (debounce and
confirmation on the station) and press -> outbox row deleted (for ``stored``: HQ's acknowledgement back
at the station). A rating is confirmed once its press is released within the kiosk's hold limit and the
kiosk's simultaneous_s has passed since it went down (the release's debounce included), so the hold is
part of the figure, as it is for a customer.

The kiosk's ``response_interval_s`` is lowered from 4 s to 0.1 s so presses a fraction of a second apart
all count; nothing else about the station or the collector is changed.
"""

import argparse
import http.client
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gpiozero.pins.mock import MockFactory

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cloud.auth import add_user  # noqa: E402
from cloud.config import load_collector_config  # noqa: E402
from edge.config import StationConfig  # noqa: E402
from edge.service import TICK_S, EdgeService  # noqa: E402
from forecourt import children  # noqa: E402
from forecourt.broker import Mosquitto, free_port, wait_for_port  # noqa: E402
from forecourt.protocol import format_epoch  # noqa: E402

MODES = ("stored", "puback")
PINS = [17, 27, 22, 10, 9]  # a 5-smiley kiosk, unhappiest to happiest
RESPONSE_INTERVAL_S = 0.1
BOUNCES, BOUNCE_GAP_S = 2, 0.002  # two rebounds 2 ms apart before the contact settles, as the tests press
API_POLL_S, OUTBOX_POLL_S = 0.005, 0.002
PRESS_TIMEOUT_S = 10.0
WARMUP = 3  # presses per station before timing: first connection, caches, the registry row
GOAL_S = 0.5


@dataclass
class Sample:
    committed: float | None = None  # seconds after the press: the outbox row exists (last_seq moved)
    visible: float | None = None  # the API returned the rating
    deleted: float | None = None  # the outbox row is gone again


class Api:
    """One keep-alive HTTP/1.1 connection to the collector, as a dashboard keeps one; reconnects if dropped."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)

    def get(self, path: str) -> tuple[int, object]:
        for attempt in (1, 2):
            try:
                self.conn.request("GET", path, headers=self.headers)
                response = self.conn.getresponse()
                return response.status, json.loads(response.read() or b"null")
            except (http.client.HTTPException, OSError):
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


class Station:
    """One EdgeService on its own MockFactory (its own Pi), running its real main loop in a thread."""

    def __init__(self, broker: Mosquitto, work: Path, mode: str) -> None:
        self.id = f"lat-{mode}"
        self.mode = mode
        self.outbox_path = work / f"{self.id}-outbox.db"
        self.config = StationConfig.model_validate({
            "station": {"id": self.id},
            "mqtt": {"url": broker.url, "password": broker.users[self.id]},
            "outbox": {"path": str(self.outbox_path), "keep_until": mode},
            "kiosks": [{"id": "shop", "location": "shop", "scale": 5, "buttons": PINS,
                        "response_interval_s": RESPONSE_INTERVAL_S}],
        })
        self.factory = MockFactory()
        self.service = EdgeService(self.config, pin_factory=self.factory, notify_systemd=False)
        self.thread = threading.Thread(target=self.service.run, name=f"edge-{self.id}", daemon=True)
        self.db: sqlite3.Connection | None = None

    def start(self, timeout: float = 20.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while self.service.publisher is None or not self.service.publisher.connected:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise SystemExit(f"station {self.id} did not connect to the broker")
            time.sleep(0.01)
        # A second connection that only reads, like `sqlite3 outbox.db` on the Pi would (WAL: never blocks the writer).
        self.db = sqlite3.connect(self.outbox_path, isolation_level=None, check_same_thread=False, timeout=5)

    def last_seq(self) -> int:
        assert self.db is not None
        return self.db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()[0]

    def holds(self, seq: int) -> bool:
        assert self.db is not None
        return self.db.execute("SELECT 1 FROM outbox WHERE seq = ?", (seq,)).fetchone() is not None

    def stop(self) -> None:
        self.service.request_stop()
        if self.thread.is_alive():
            self.thread.join(15)
        if self.db is not None:
            self.db.close()
        self.factory.reset()


def press(station: Station, api: Api, score: int, hold_s: float, stop: threading.Event) -> Sample:
    """One press, timed from the first drive_low until the API shows it and the station has forgotten it."""
    seq = station.last_seq() + 1
    sample = Sample()
    pressed = threading.Event()
    t0 = [0.0]
    since = format_epoch(time.time() - 0.05)  # the rating's ts is its first contact, a moment from now
    path = f"/api/v1/stations/{station.id}/events?kind=rating&start={since}"

    def watch_api() -> None:
        pressed.wait()
        deadline = t0[0] + PRESS_TIMEOUT_S
        while not stop.is_set() and time.perf_counter() < deadline:
            status, events = api.get(path)
            if status == 200 and any(e.get("seq") == seq for e in events):  # type: ignore[union-attr]
                sample.visible = time.perf_counter() - t0[0]
                return
            time.sleep(API_POLL_S)

    def watch_outbox() -> None:
        pressed.wait()
        deadline = t0[0] + PRESS_TIMEOUT_S
        while not stop.is_set() and time.perf_counter() < deadline:
            now = time.perf_counter() - t0[0]
            if sample.committed is None and station.last_seq() >= seq:
                sample.committed = now
            if sample.committed is not None and not station.holds(seq):
                sample.deleted = now
                return
            time.sleep(OUTBOX_POLL_S)

    watchers = [threading.Thread(target=watch_api, daemon=True), threading.Thread(target=watch_outbox, daemon=True)]
    for w in watchers:
        w.start()
    pin = station.factory.pin(PINS[score - 1])
    t0[0] = time.perf_counter()
    pin.drive_low()  # first contact: latency starts here
    pressed.set()
    for _ in range(BOUNCES):
        time.sleep(BOUNCE_GAP_S)
        pin.drive_high()
        time.sleep(BOUNCE_GAP_S)
        pin.drive_low()
    time.sleep(hold_s)
    pin.drive_high()
    for w in watchers:
        w.join(PRESS_TIMEOUT_S + 1)
    return sample


def start_collector(broker: Mosquitto, work: Path) -> tuple[subprocess.Popen, int, str, Path]:
    port = free_port()
    db_path = work / "collector.db"
    config = work / "collector.toml"
    config.write_text(
        f'[mqtt]\nurl = "{broker.url}"\nusername = "collector"\npassword = "{broker.users["collector"]}"\n\n'
        f'[database]\npath = "{db_path}"\n\n[http]\nlisten = "127.0.0.1:{port}"\n'
    )
    token = add_user(db_path, "bench", "hq")  # creates and migrates the database, as `forecourt users add` does
    log = work / "collector.log"
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    process = subprocess.Popen(
        [sys.executable, "-m", "forecourt", "collector", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=open(log, "ab"),  # noqa: SIM115 - lives with the process
        env={**env, "FORECOURT_LOG_LEVEL": "WARNING"},
        start_new_session=True,  # Ctrl-C reaches only us; we stop it in order
        preexec_fn=children.die_with_parent(),
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=30)  # the API listens only once ingest is subscribed
    except Exception:
        stop_process(process)
        raise SystemExit(f"the collector did not start:\n{log.read_text(errors='replace')[-2000:]}") from None
    return process, port, token, config


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def percentiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p90": cuts[89], "p99": cuts[98], "max": max(values)}


def run(args: argparse.Namespace, stop: threading.Event) -> None:
    rng = random.Random(args.seed)
    started = time.perf_counter()
    per_round = max(1, args.presses // args.rounds)
    samples: dict[str, list[Sample]] = {m: [] for m in MODES}
    round_p50: dict[str, list[float]] = {m: [] for m in MODES}
    missed = {m: 0 for m in MODES}
    stations: list[Station] = []
    collector: subprocess.Popen | None = None
    api: Api | None = None
    with tempfile.TemporaryDirectory(prefix="forecourt-bench-") as tmp:
        work = Path(tmp)
        users = {"collector": "bench-collector"} | {f"lat-{m}": f"bench-{m}" for m in MODES}
        with Mosquitto(work / "broker", users=users, collectors=("collector",), die_with_parent=True) as broker:
            try:
                collector, port, token, config_path = start_collector(broker, work)
                ingest = load_collector_config(config_path).ingest
                api = Api(port, token)
                stations = [Station(broker, work, m) for m in MODES]
                for station in stations:
                    station.start()
                by_mode = {s.mode: s for s in stations}
                for station in stations:  # registered at HQ (its birth status), then a few untimed presses
                    deadline = time.monotonic() + 20
                    while api.get(f"/api/v1/stations/{station.id}")[0] != 200:
                        if time.monotonic() > deadline:
                            raise SystemExit(f"HQ never registered station {station.id}")
                        time.sleep(0.05)
                    for i in range(WARMUP):
                        press(station, api, 1 + i % 5, args.hold_ms / 1000, stop)
                        time.sleep(rng.uniform(0, TICK_S))
                for r in range(args.rounds):
                    for mode in MODES if r % 2 == 0 else MODES[::-1]:  # ABBA: drift hits both alike
                        this_round = []
                        for i in range(per_round):
                            if stop.is_set():
                                raise KeyboardInterrupt
                            sample = press(by_mode[mode], api, 1 + i % 5, args.hold_ms / 1000, stop)
                            if sample.visible is None or sample.deleted is None:
                                missed[mode] += 1
                            else:
                                samples[mode].append(sample)
                                this_round.append(sample.visible)
                            time.sleep(rng.uniform(0, TICK_S))  # a random phase against tick and idle wait
                        if this_round:
                            round_p50[mode].append(statistics.median(this_round))
            finally:
                stop.set()  # watchers of an interrupted press end before their station closes
                for station in stations:
                    station.stop()
                if api is not None:
                    api.close()
                if collector is not None:
                    stop_process(collector)
    wall = time.perf_counter() - started
    report(args, per_round, ingest, samples, round_p50, missed, wall)
    if any(missed.values()):
        raise SystemExit(1)


def report(args, per_round, ingest, samples, round_p50, missed, wall) -> None:
    n = {m: len(samples[m]) for m in MODES}
    print(f"press-to-HQ latency on loopback: {per_round} presses x {args.rounds} rounds per mode, rounds alternating "
          f"(ABBA) stored/puback, one press in flight, {WARMUP} untimed warm-up presses per station")
    print(f"  press: MockFactory pin low, {BOUNCES} rebounds {BOUNCE_GAP_S * 1000:.0f} ms apart, held {args.hold_ms:.0f} ms, "
          f"high; then a random 0-{TICK_S:.2f} s pause; latency starts at the first drive_low")
    print(f"  station: EdgeService.run() (tick {TICK_S} s, gpio bounce_ms 30), 1 kiosk with response_interval_s="
          f"{RESPONSE_INTERVAL_S} (default 4 s), outbox synchronous=FULL in a temp dir; keep_until stored vs puback")
    print(f"  collector: `forecourt collector` subprocess, default ingest: batch_size={ingest.batch_size} "
          f"batch_wait_ms={ingest.batch_wait_ms:g} worker_process={ingest.worker_process} "
          f"rollup_interval_s={ingest.rollup_interval_s:g}; private Mosquitto on a free loopback port")
    print(f"  seen at HQ: GET /api/v1/stations/<st>/events?kind=rating&start=... with a bearer token, keep-alive, "
          f"every {API_POLL_S * 1000:.0f} ms (outbox polled every {OUTBOX_POLL_S * 1000:.0f} ms); seconds, "
          f"p50/p90/p99/max over all presses, [min-max of the rounds' medians]")
    print(f"goal: p99 < {GOAL_S} s")
    print(f"  {'':34}{'n':>5}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}   rounds' p50")
    rows = {m: percentiles([s.visible for s in samples[m]]) for m in MODES if n[m] >= 2}
    for mode in MODES:
        if mode not in rows:
            print(f"  press -> HQ API, {mode:<17}{n[mode]:>5}  too few presses")
            continue
        p = rows[mode]
        ok = "yes" if p["p99"] < GOAL_S else "NO"
        spread = f"[{min(round_p50[mode]):.3f}-{max(round_p50[mode]):.3f}]"
        print(f"  press -> HQ API, {mode:<17}{n[mode]:>5}{p['p50']:>8.3f}{p['p90']:>8.3f}{p['p99']:>8.3f}"
              f"{p['max']:>8.3f}   {spread}  p99 < {GOAL_S}: {ok}")
    if len(rows) == 2:
        print(f"  ratio stored / puback            p50 {rows['stored']['p50'] / rows['puback']['p50']:.0%}, "
              f"p99 {rows['stored']['p99'] / rows['puback']['p99']:.0%}")
    for mode, what in (("stored", "HQ's ack back"), ("puback", "broker PUBACK")):
        if n[mode] >= 2:
            d, c = percentiles([s.deleted for s in samples[mode]]), percentiles([s.committed for s in samples[mode]])
            print(f"  press -> outbox row deleted ({what}, {mode}): p50 {d['p50']:.3f}  p99 {d['p99']:.3f}")
            print(f"  press -> outbox row committed ({mode}):        p50 {c['p50']:.3f}  p99 {c['p99']:.3f}")
    if any(missed.values()):
        print(f"  MISSED (not seen within {PRESS_TIMEOUT_S:g} s): " + ", ".join(f"{m} {missed[m]}" for m in MODES))
    print(f"  wall time {wall:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presses", type=int, default=200, help="timed presses per mode")
    parser.add_argument("--rounds", type=int, default=10, help="rounds per mode; they alternate")
    parser.add_argument("--hold-ms", type=float, default=150.0, help="how long the button stays down after the bounce")
    parser.add_argument("--seed", type=int, default=7, help="seed of the random pauses between presses")
    args = parser.parse_args()
    if args.presses < args.rounds or args.rounds < 1:
        parser.error("--presses must be at least --rounds, and --rounds at least 1")
    stop = threading.Event()

    def interrupted(*_: object) -> None:
        stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)  # cleaned up like Ctrl-C
    try:
        run(args, stop)
    except KeyboardInterrupt:
        stop.set()
        print("interrupted; stations, collector and broker stopped", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
