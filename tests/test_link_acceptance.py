"""Issue 4's acceptance against a real Mosquitto: nothing is lost across broker restarts, a broker absent
at start-up, or the edge process being SIGKILLed; the last will says offline."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from edge.link.outbox import Outbox
from edge.link.publisher import Publisher
from forecourt.broker import Mosquitto
from forecourt.protocol import Status, format_epoch
from tests.conftest import STATION_USERS
from tests.drafting import draft
from tests.link_helpers import Collector, rating, station_config
from tests.mqtt import Recorder
from tests.waiting import wait_until

BIRTH = Status(state="online", version="test", config_hash="abc", started_at=format_epoch(0))


def _link(config) -> tuple[Outbox, Publisher]:
    outbox = Outbox(config.outbox.path, station=config.station.id)
    publisher = Publisher(
        outbox, config.mqtt, station=config.station.id, birth=BIRTH,
        window=config.outbox.inflight, rate=config.outbox.replay_rate,
    )
    return outbox, publisher


def test_2000_events_across_three_broker_restarts_all_arrive(broker, tmp_path):
    collector = Collector(broker)
    outbox, publisher = _link(station_config(broker, tmp_path))
    publisher.start()
    sent: set[str] = set()
    try:
        for _restart in range(3):
            assert publisher.wait_connected(10)
            for _ in range(300):  # streaming while connected ...
                sent.add(outbox.store(draft("rating", time.time(), rating())).id)
            broker.stop()  # ... the broker goes away mid-stream, with messages in flight
            for _ in range(200):  # and the station keeps recording meanwhile
                sent.add(outbox.store(draft("rating", time.time(), rating())).id)
            broker.start()
        for _ in range(500):
            sent.add(outbox.store(draft("rating", time.time(), rating())).id)
        assert len(sent) == 2000
        assert collector.wait_for(lambda c: sent <= c.ids(), timeout=30), f"{len(sent - collector.ids())} never arrived"
        seqs = sorted({e["seq"] for e in collector.events})
        assert seqs == list(range(1, 2001))
        print(f"\n2000 events, 3 broker restarts: {collector.duplicates()} duplicates (at-least-once), "
              f"{publisher.reconnects} reconnects")
        assert publisher.wait_connected(5) and publisher.reconnects == 3  # every restart cut a live link
        assert wait_until(lambda: outbox.stats().depth == 0)
    finally:
        publisher.stop()
        collector.close()
        outbox.close()


def test_broker_absent_at_start_up_events_wait_locally_then_arrive(tmp_path):
    broker = Mosquitto(tmp_path / "broker", users=STATION_USERS)
    # HQ's persistent session exists before the outage, as it does in production.
    broker.start()
    Collector(broker).close()
    broker.stop()
    outbox, publisher = _link(station_config(broker, tmp_path))
    publisher.start()
    try:
        ids = {outbox.store(draft("cleaning", time.time(), {"restroom": "ladies"})).id for _ in range(50)}
        assert wait_until(lambda: publisher.stats().last_error is not None)
        assert not publisher.connected
        assert outbox.stats().depth == 50
        broker.start()
        collector = Collector(broker)
        try:
            assert collector.wait_for(lambda c: ids <= c.ids())
            assert wait_until(lambda: outbox.stats().depth == 0)
        finally:
            collector.close()
    finally:
        publisher.stop()
        outbox.close()
        broker.stop()


FEEDER = """
import sys, time
from edge.config import load_station_config
from edge.events import Draft
from edge.service import EdgeService
from forecourt.protocol import RatingBody
config = load_station_config(sys.argv[1])
service = EdgeService(config).start()
for i in range(int(sys.argv[2])):
    event = service.outbox.store(Draft(time.time(), RatingBody(kiosk="shop", score=1 + i % 5, scale=5)))
    print(event.seq, event.id, flush=True)
while service.outbox.stats().depth:  # a clean finish: everything delivered, then the offline status
    time.sleep(0.01)
service.stop()
"""


def test_sigkill_mid_stream_loses_nothing_and_seq_continues_and_the_will_says_offline(broker, tmp_path):
    collector = Collector(broker)
    config_path = _write_station_toml(broker, tmp_path)
    feeder = _feed(config_path, 100_000)
    committed: dict[int, str] = {}
    try:
        for line in feeder.stdout:
            seq, event_id = line.split()
            committed[int(seq)] = event_id
            if len(committed) == 400:
                feeder.send_signal(signal.SIGKILL)
                break
    finally:
        feeder.kill()
        feeder.wait()
    # The broker notices the dead TCP connection and publishes the retained last will.
    assert collector.wait_for(lambda c: any(s == {"state": "offline"} for s, _ in c.statuses))
    late = Recorder(broker, topic="forecourt/v1/a/status")
    assert late.wait_for(lambda msgs: msgs and json.loads(msgs[-1][1]) == {"state": "offline"} and msgs[-1][2])
    late.close()

    restarted = _feed(config_path, 100)
    out, _ = restarted.communicate(timeout=60)
    assert restarted.returncode == 0
    after = [line.split() for line in out.splitlines()]
    committed.update({int(seq): event_id for seq, event_id in after})
    try:
        assert collector.wait_for(lambda c: set(committed.values()) <= c.ids())
        by_seq: dict[int, set[str]] = {}
        for event in collector.events:
            by_seq.setdefault(event["seq"], set()).add(event["id"])
        assert all(len(ids) == 1 for ids in by_seq.values()), "a seq was reused"
        assert sorted(by_seq) == list(range(1, max(committed) + 1)), "a seq is missing"
        assert min(int(s) for s, _ in after) > 400  # continues after the killed run, never restarts at 1
        print(f"\nSIGKILL after {400} committed events: {len(by_seq)} seqs delivered, {collector.duplicates()} duplicates")
        assert collector.wait_for(lambda c: c.statuses[-1][0] == {"state": "offline"})  # clean stop says it too
    finally:
        collector.close()


def _write_station_toml(broker: Mosquitto, tmp_path: Path) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(
        f'[station]\nid = "a"\n'
        f'[mqtt]\nurl = "{broker.url}"\npassword = "{broker.users["a"]}"\nreconnect_min_s = 0.05\nreconnect_max_s = 0.3\n'
        f'[outbox]\npath = "{tmp_path / "outbox.db"}"\nreplay_rate = 100000\n'
    )
    return path


def _feed(config_path: Path, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("NOTIFY_SOCKET", None)
    return subprocess.Popen(
        [sys.executable, "-c", FEEDER, str(config_path), str(count)],
        stdout=subprocess.PIPE, text=True, env=env,
    )

