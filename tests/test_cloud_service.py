"""``forecourt collector`` as a real process: SIGKILLed mid-stream and restarted, it loses nothing; its
HTTP API answers over a real socket with bearer tokens."""

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloud.auth import add_user
from cloud.config import CollectorConfig
from cloud.service import CollectorService
from cloud.store import open_db
from forecourt.broker import free_port, wait_for_port
from forecourt.protocol import encode, status_topic
from tests.cloud_kit import count, online, rating, wait_until
from tests.mqtt import connect, publish

N = 3000


def _config(tmp_path: Path, broker, port: int) -> Path:
    path = tmp_path / "collector.toml"
    path.write_text(
        f"""[mqtt]
url = "{broker.url}"
username = "collector"
password = "{broker.users['collector']}"
client_id = "collector-kill-test"

[database]
path = "{tmp_path / 'collector.db'}"

[http]
listen = "127.0.0.1:{port}"

[ingest]
batch_size = 200
batch_wait_ms = 5
"""
    )
    return path


def _start(config: Path, port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "forecourt", "collector", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=open(log, "ab"),  # noqa: SIM115 - closed with the process
        env={**os.environ, "FORECOURT_LOG_LEVEL": "INFO"},
    )
    wait_for_port("127.0.0.1", port, timeout=20)
    return process


def _get(port: int, path: str, token: str | None) -> tuple[int, object]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_sigkill_mid_stream_then_restart_loses_nothing_and_the_api_serves(broker, tmp_path):
    port = free_port()
    config = _config(tmp_path, broker, port)
    db_path = tmp_path / "collector.db"
    db = open_db(db_path)
    token = add_user(db, "hq-user", "hq")
    manager = add_user(db, "manager-b", "station:b")
    db.close()
    log = tmp_path / "collector.log"
    process = _start(config, port, log)
    station = connect(broker, "a")
    publish(station, status_topic("a"), encode(online(), "a")[1], retain=True)
    now = datetime.now(UTC)
    events = [rating("a", seq, now - timedelta(seconds=N - seq), 1 + seq % 5) for seq in range(1, N + 1)]

    def stream() -> None:
        for event in events:
            station.publish(*encode(event), qos=1)

    sender = threading.Thread(target=stream)
    sender.start()
    try:
        assert wait_until(lambda: count(db_path, "SELECT count(*) FROM events") >= 300, timeout=30)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        killed_at = count(db_path, "SELECT count(*) FROM events")
        sender.join(60)
        process = _start(config, port, log)
        assert wait_until(lambda: count(db_path, "SELECT count(*) FROM events") == N, timeout=60), log.read_text()[-2000:]
        assert killed_at < N  # it really died mid-stream
        check = open_db(db_path)
        assert [r[0] for r in check.execute("SELECT id FROM events ORDER BY seq")] == [e.id for e in events]
        assert count(db_path, "SELECT count(*) FROM seq_gaps") == 0
        assert count(db_path, "SELECT count(*) FROM dead_letters") == 0

        assert _get(port, "/api/v1/stations", None)[0] == 401
        assert _get(port, "/api/v1/stations", "not-a-token")[0] == 401
        status, stations = _get(port, "/api/v1/stations", token)
        assert status == 200
        assert [(s["id"], s["status"], s["version"], s["auto_registered"]) for s in stations] == [("a", "online", "1.0", True)]
        assert _get(port, "/api/v1/stations/a", manager)[0] == 403
        status, detail = _get(port, "/api/v1/stations/a", token)
        assert status == 200 and detail["last_seq"] == N and detail["seq_gaps"] == []
    finally:
        station.loop_stop()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def test_in_process_service_ingests_rolls_up_and_serves(broker, tmp_path):
    port = free_port()
    config = CollectorConfig.model_validate({
        "mqtt": {"url": broker.url, "password": broker.users["collector"], "client_id": "in-process"},
        "database": {"path": str(tmp_path / "collector.db")},
        "http": {"listen": f"127.0.0.1:{port}"},
        "ingest": {"rollup_interval_s": 0.05, "batch_wait_ms": 5},
    })
    service = CollectorService(config).start()
    token = add_user(config.database.path, "hq", "hq")
    station = connect(broker, "a")
    try:
        publish(station, status_topic("a"), encode(online(), "a")[1], retain=True)
        now = datetime.now(UTC)
        for seq, score in enumerate((5, 4, 1), start=1):
            publish(station, *encode(rating("a", seq, now - timedelta(seconds=10 - seq), score)))

        def ratings() -> dict:
            status, rows = _get(port, "/api/v1/metrics?station=a&bucket=hour", token)
            return rows[-1]["ratings"] if status == 200 and rows else {}

        assert wait_until(lambda: ratings() == {"1": 1, "2": 0, "3": 0, "4": 1, "5": 1}, timeout=20)
        status, detail = _get(port, "/api/v1/stations/a", token)
        assert (status, detail["status"], detail["last_seq"]) == (200, "online", 3)
    finally:
        station.loop_stop()
        service.stop()
