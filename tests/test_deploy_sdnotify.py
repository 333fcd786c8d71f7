"""sd_notify as systemd speaks it: a datagram socket in $NOTIFY_SOCKET, READY once, WATCHDOG every
WATCHDOG_USEC/2. The edge service runs as systemd runs it (a subprocess with those variables), so
Type=notify and WatchdogSec= in systemd/forecourt-edge.service are tested against the real program."""

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from forecourt.broker import free_port
from forecourt.sdnotify import notify, watchdog_interval

WATCHDOG_USEC = 300_000  # the service must pet at least every 0.3 s (systemd's advice: every 0.15 s)


@pytest.fixture
def notify_socket(tmp_path):
    """What systemd listens on: a unix datagram socket."""
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(0.5)
        yield path, sock


def test_notify_sends_one_datagram_to_the_given_socket(notify_socket):
    path, sock = notify_socket
    assert notify("READY=1\nSTATUS=up", str(path))
    assert sock.recv(4096) == b"READY=1\nSTATUS=up"


def test_notify_follows_notify_socket_from_the_environment(notify_socket, monkeypatch):
    path, sock = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    assert notify("WATCHDOG=1")
    assert sock.recv(4096) == b"WATCHDOG=1"


def test_notify_reaches_an_abstract_socket(monkeypatch):
    name = f"forecourt-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(0.5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify("STOPPING=1")
        assert sock.recv(4096) == b"STOPPING=1"


def test_notify_is_a_quiet_no_op_outside_systemd(tmp_path, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False
    assert notify("READY=1", str(tmp_path / "nobody-listens.sock")) is False


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("30000000", None, 15.0),
        ("30000000", "self", 15.0),
        ("30000000", "other", None),  # the variables were meant for another process (e.g. our parent)
        (None, None, None),
        ("", None, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec(monkeypatch, usec, pid, expected):
    for name, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", {"self": str(os.getpid()), "other": "1"}.get(pid))):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert watchdog_interval() == expected


def station_toml(tmp_path: Path, url: str, password: str) -> Path:
    config = tmp_path / "station.toml"
    config.write_text(
        f'[station]\nid = "a"\n\n[mqtt]\nurl = "{url}"\npassword = "{password}"\n\n'
        f'[outbox]\npath = "{tmp_path / "outbox.db"}"\n\n'
        '[[restrooms]]\nid = "ladies"\nbutton_pin = 5\nled_pin = 6\n'
    )
    return config


def collector_toml(tmp_path: Path, url: str, password: str, listen: str) -> Path:
    config = tmp_path / "collector.toml"
    config.write_text(
        f'[mqtt]\nurl = "{url}"\nusername = "collector"\npassword = "{password}"\n\n'
        f'[database]\npath = "{tmp_path / "collector.db"}"\n\n[http]\nlisten = "{listen}"\n'
    )
    return config


def receive(sock: socket.socket, until: float) -> list[tuple[float, str]]:
    try:
        sock.settimeout(max(0.01, until - time.monotonic()))
        return [(time.monotonic(), sock.recv(4096).decode())]
    except TimeoutError:
        return []


def run_as_systemd_would(argv: list[str], notify_path: Path, sock: socket.socket, on_ready=None) -> tuple[list[str], list[float], int, str]:
    """Start ``forecourt ARGV`` with NOTIFY_SOCKET and WATCHDOG_USEC, collect five watchdog pets after READY,
    SIGTERM it, and return (states, pet times, exit code, stderr). ``on_ready`` runs the moment READY arrives."""
    env = {k: v for k, v in os.environ.items() if k not in ("WATCHDOG_PID", "LISTEN_PID")}
    env.update(NOTIFY_SOCKET=str(notify_path), WATCHDOG_USEC=str(WATCHDOG_USEC))
    service = subprocess.Popen(
        [sys.executable, "-m", "forecourt", *argv], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    messages: list[tuple[float, str]] = []
    try:
        deadline = time.monotonic() + 30  # interpreter start-up and imports on a loaded machine
        while time.monotonic() < deadline and sum("WATCHDOG=1" in m for _, m in messages) < 5:
            new = receive(sock, deadline)
            if any("READY=1" in m for _, m in new):
                deadline = time.monotonic() + 10 * WATCHDOG_USEC / 1e6  # five pets are due within 0.75 s
                if on_ready:
                    on_ready()
            messages += new
            if service.poll() is not None:
                break
        service.send_signal(signal.SIGTERM)
        code = service.wait(15)  # systemd's TimeoutStopSec is 30 s
        while new := receive(sock, time.monotonic() + 0.05):  # what it said on the way out
            messages += new
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
    stderr = service.stderr.read() if service.stderr else ""
    states = [m for _, m in messages]
    ready = next((i for i, m in enumerate(states) if "READY=1" in m), None)
    assert ready is not None, f"no READY=1 in {states}\n{stderr[-2000:]}"
    assert not any("WATCHDOG=1" in m for m in states[:ready]), "petting before READY hides a hang at start-up"
    pets = [t for t, m in messages[ready:] if "WATCHDOG=1" in m]
    return states[ready:], pets, code, stderr


def assert_watched(states: list[str], pets: list[float], code: int, stderr: str) -> None:
    assert len(pets) >= 5, f"{states}\n{stderr[-2000:]}"
    gaps = [b - a for a, b in zip(pets, pets[1:], strict=False)]
    # systemd kills the service when one gap exceeds WatchdogSec; the median shows the service's rhythm
    # without one scheduling hiccup of a shared CI machine failing the test.
    assert statistics.median(gaps) < WATCHDOG_USEC / 1e6, gaps
    assert any("STOPPING=1" in m for m in states), f"no STOPPING=1 after SIGTERM: {states}"
    # systemd counts an exit by the SIGTERM it sent as clean, like exit code 0.
    assert code in (0, -signal.SIGTERM), stderr[-2000:]


@pytest.mark.parametrize("broker_up", [True, False], ids=["broker-up", "broker-unreachable"])
def test_edge_service_reports_ready_then_pets_the_watchdog(request, notify_socket, tmp_path, broker_up):
    path, sock = notify_socket
    if broker_up:
        broker = request.getfixturevalue("broker")
        url, password = broker.url, broker.users["a"]
    else:  # a station whose 4G link is down must still come up, or systemd would kill it at TimeoutStartSec
        url, password = f"mqtt://127.0.0.1:{free_port()}", "unused"
    config = station_toml(tmp_path, url, password)
    assert_watched(*run_as_systemd_would(["edge", "--config", str(config), "--simulate"], path, sock))


def test_collector_reports_ready_with_its_api_up_then_pets_the_watchdog(broker, notify_socket, tmp_path):
    path, sock = notify_socket
    port = free_port()
    config = collector_toml(tmp_path, broker.url, broker.users["collector"], f"127.0.0.1:{port}")
    api_up_at_ready: list[bool] = []

    def probe_api() -> None:  # Type=notify: units ordered After= the collector may use the API at once
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            api_up_at_ready.append(True)
        except OSError:
            api_up_at_ready.append(False)

    assert_watched(*run_as_systemd_would(["collector", "--config", str(config)], path, sock, on_ready=probe_api))
    assert api_up_at_ready == [True], "READY=1 was sent before the HTTP API listened"
