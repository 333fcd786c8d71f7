"""How fast the outbox publisher drains a backlog to a local Mosquitto, next to a bare paho QoS 1 loop.

    .venv/bin/python bench/outbox.py [--events 20000] [--rounds 5] [--window 100]

All sides send the same topics and payloads to the same broker (started here on a free loopback port)
with the same number of messages in flight. A stand-in for HQ runs in its own process on that broker
throughout: it subscribes to every station event and, every 20 ms, publishes a storage acknowledgement
for what it received (what the collector does after each commit, without the database, so the figures
price the station's side only). The bare loop counts a message done at its PUBACK. The outbox sides
also read every row from SQLite and delete it (synchronous=FULL): with keep_until = "stored" (the
default) when HQ's acknowledgement names it, with "puback" at the PUBACK, batched either way - that
bookkeeping is what the ratios price. Rounds alternate so background load hits all sides alike; the
figures are medians. Goal (issue 14): stored / raw >= 80 %.
"""

import argparse
import json
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.config import MqttSettings  # noqa: E402
from edge.events import Draft
from edge.link.outbox import Outbox  # noqa: E402
from edge.link.publisher import Publisher  # noqa: E402
from forecourt.broker import Mosquitto  # noqa: E402
from forecourt.protocol import RatingBody, Status, build_acks, encode_ack, format_epoch  # noqa: E402

PASSWORD = "bench-secret"
BIRTH = Status(state="online", version="bench", config_hash="bench", started_at=format_epoch(0))


def draft(i: int) -> Draft:
    return Draft(1_795_430_000 + i, RatingBody(kiosk="shop", location="shop", score=1 + i % 5, scale=5))


def build_backlog(path: Path, events: int) -> None:
    """A backlog as an outage leaves it. Filled without fsync: the bench times draining, not filling."""
    outbox = Outbox(path, station="a")
    outbox.db.execute("PRAGMA synchronous=OFF")
    for i in range(events):
        outbox.emit(draft(i))
    outbox.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    outbox.close()


def emit_rate(path: Path, events: int) -> float:
    """Events committed per second with the production setting (synchronous=FULL: one fsync each)."""
    outbox = Outbox(path, station="a")
    start = time.perf_counter()
    for i in range(events):
        outbox.emit(draft(i))
    elapsed = time.perf_counter() - start
    outbox.close()
    return events / elapsed


def stand_in_hq(host: str, port: int, password: str, ready, stop) -> None:
    """Acknowledges every event it receives, in batches every 20 ms, as the collector does per commit."""
    from datetime import UTC, datetime

    pending: dict[str, list[int]] = {}
    lock = threading.Lock()

    def on_message(_c, _u, message) -> None:
        station, seq = message.topic.split("/")[2], json.loads(message.payload)["seq"]
        with lock:
            pending.setdefault(station, []).append(seq)

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="collector", protocol=mqtt.MQTTProtocolVersion.MQTTv5)
    client.username_pw_set("collector", password)
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe("forecourt/v1/+/event/+", qos=1)
    client.on_subscribe = lambda *_: ready.set()
    client.connect(host, port, 30)
    client.loop_start()
    while not stop.wait(0.02):
        with lock:
            batch, pending = pending, {}
        for station, seqs in batch.items():
            for ack in build_acks(station, stored=seqs, now=datetime.now(UTC)):
                client.publish(*encode_ack(ack), qos=1)
    client.disconnect()
    client.loop_stop()


def drain_outbox(broker: Mosquitto, template: Path, work: Path, events: int, window: int, keep_until: str) -> float:
    path = work / "outbox.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copy(template, path)
    outbox = Outbox(path, station="a")
    settings = MqttSettings(url=broker.url, password=PASSWORD, reconnect_min_s=0.05, reconnect_max_s=0.5)
    publisher = Publisher(outbox, settings, station="a", birth=BIRTH, window=window, rate=1e9, keep_until=keep_until)
    start = time.perf_counter()
    publisher.start()
    deadline = start + 300
    done = (lambda: publisher.confirmed >= events) if keep_until == "stored" else (lambda: publisher.published >= events)
    while not done() and time.perf_counter() < deadline:  # a cheap check: stats() counts rows
        time.sleep(0.005)
    while outbox.stats().depth and time.perf_counter() < deadline:  # and the last rows deleted
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    publisher.stop()
    outbox.close()
    check = Outbox(path, station="a")
    left = check.stats().depth
    check.close()
    if left:
        raise SystemExit(f"outbox run ({keep_until}) left {left} of {events} rows")
    return events / elapsed


def raw_paho(broker: Mosquitto, rows: list[tuple[str, bytes]], window: int) -> float:
    """The baseline: one paho client, its own network thread, QoS 1, the same in-flight window."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw", protocol=mqtt.MQTTProtocolVersion.MQTTv5)
    client.username_pw_set("a", PASSWORD)
    client.max_inflight_messages_set(window)
    client.max_queued_messages_set(0)
    done = threading.Event()
    acked = [0]

    def on_publish(_c, _u, _mid, reason, _p) -> None:
        if not reason.is_failure:
            acked[0] += 1
        if acked[0] == len(rows):
            done.set()

    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    client.on_publish = on_publish
    client.connect(broker.host, broker.port, 30)
    client.loop_start()
    connected.wait(10)
    start = time.perf_counter()
    for topic, payload in rows:
        client.publish(topic, payload, qos=1)
    done.wait(120)
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    if acked[0] < len(rows):
        raise SystemExit(f"raw run acknowledged only {acked[0]} of {len(rows)}")
    return len(rows) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--window", type=int, default=100, help="messages in flight, both sides")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="forecourt-bench-") as tmp:
        work = Path(tmp)
        template = work / "backlog.db"
        build_backlog(template, args.events)
        reader = Outbox(template, station="a")
        rows = [(r.topic, r.payload) for r in reader.pending(limit=args.events)]
        reader.close()
        committed = emit_rate(work / "emit.db", 2000)
        rates: dict[str, list[float]] = {"stored": [], "puback": [], "raw": []}
        context = multiprocessing.get_context("spawn")
        ready, stop = context.Event(), context.Event()
        with Mosquitto(work / "broker", users={"a": PASSWORD, "collector": PASSWORD}) as broker:
            hq = context.Process(target=stand_in_hq, args=(broker.host, broker.port, PASSWORD, ready, stop), daemon=True)
            hq.start()
            try:
                if not ready.wait(30):
                    raise SystemExit("the stand-in HQ did not subscribe")
                for _ in range(args.rounds):
                    for keep_until in ("stored", "puback"):
                        rates[keep_until].append(drain_outbox(broker, template, work, args.events, args.window, keep_until))
                    rates["raw"].append(raw_paho(broker, rows, args.window))
            finally:
                stop.set()
                hq.join(10)
        medians = {name: statistics.median(values) for name, values in rates.items()}
        size = statistics.median(len(p) for _, p in rows)

        def line(label: str, name: str) -> str:
            values = rates[name]
            return f"  {label:<34}: {medians[name]:8,.0f} events/s  ({min(values):,.0f}-{max(values):,.0f})"

        print(f"{args.events} events of ~{size:.0f} B, window {args.window}, {args.rounds} rounds, medians (min-max):")
        print(line("outbox, kept until HQ stored it", "stored"))
        print(line("outbox, kept until PUBACK (old)", "puback"))
        print(line("bare paho QoS 1 loop", "raw"))
        print(f"  ratio stored / raw                : {medians['stored'] / medians['raw']:8.0%}   (goal >= 80 %)")
        print(f"  ratio puback / raw                : {medians['puback'] / medians['raw']:8.0%}")
        print(f"  emit (commit, FULL)               : {committed:8,.0f} events/s  (one fsync per event; for scale)")

if __name__ == "__main__":
    main()
