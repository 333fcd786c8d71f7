"""How fast the outbox publisher drains a backlog to a local Mosquitto, next to a bare paho QoS 1 loop.

    .venv/bin/python bench/outbox.py [--events 20000] [--rounds 5] [--window 100]

Both sides send the same topics and payloads to the same broker (started here on a free loopback
port, no subscribers) with the same number of messages in flight, and count a message done at its
PUBACK. The outbox side also reads every row from SQLite and deletes it after its PUBACK (batched,
synchronous=FULL) - that bookkeeping is what the ratio prices. Rounds alternate so background load
hits both sides alike; the figures are medians.
"""

import argparse
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
from edge.events import Draft  # noqa: E402
from edge.link.outbox import Outbox  # noqa: E402
from edge.link.publisher import Publisher  # noqa: E402
from forecourt.broker import Mosquitto  # noqa: E402
from forecourt.protocol import Status, format_epoch  # noqa: E402

PASSWORD = "bench-secret"
BIRTH = Status(state="online", version="bench", config_hash="bench", started_at=format_epoch(0))


def draft(i: int) -> Draft:
    return Draft("rating", 1_795_430_000 + i, {"kiosk": "shop", "location": "shop", "score": 1 + i % 5, "scale": 5})


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


def drain_outbox(broker: Mosquitto, template: Path, work: Path, events: int, window: int) -> float:
    path = work / "outbox.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copy(template, path)
    outbox = Outbox(path, station="a")
    settings = MqttSettings(url=broker.url, password=PASSWORD, reconnect_min_s=0.05, reconnect_max_s=0.5)
    publisher = Publisher(outbox, settings, station="a", birth=BIRTH, window=window, rate=1e9)
    start = time.perf_counter()
    publisher.start()
    while publisher.published < events:  # a cheap check: stats() counts rows, which would slow the drain
        time.sleep(0.005)
    while outbox.stats().depth:  # and the last acknowledged rows deleted
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    publisher.stop()
    outbox.close()
    if publisher.published < events:
        raise SystemExit(f"outbox run acknowledged only {publisher.published} of {events}")
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
        outbox_rates, raw_rates = [], []
        with Mosquitto(work / "broker", users={"a": PASSWORD, "collector": PASSWORD}) as broker:
            for _ in range(args.rounds):
                outbox_rates.append(drain_outbox(broker, template, work, args.events, args.window))
                raw_rates.append(raw_paho(broker, rows, args.window))
        outbox_median, raw_median = statistics.median(outbox_rates), statistics.median(raw_rates)
        size = statistics.median(len(p) for _, p in rows)
        print(f"{args.events} events of ~{size:.0f} B, window {args.window}, {args.rounds} rounds, medians (min-max):")
        print(f"  outbox publisher drain : {outbox_median:8,.0f} events/s  ({min(outbox_rates):,.0f}-{max(outbox_rates):,.0f})")
        print(f"  bare paho QoS 1 loop   : {raw_median:8,.0f} events/s  ({min(raw_rates):,.0f}-{max(raw_rates):,.0f})")
        print(f"  ratio outbox / raw     : {outbox_median / raw_median:8.0%}")
        print(f"  emit (commit, FULL)    : {committed:8,.0f} events/s  (one fsync per event; for scale)")


if __name__ == "__main__":
    main()
