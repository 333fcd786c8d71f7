"""``forecourt demo`` as a user runs it: three lines, a working dashboard and API, and nothing left
running after --for, Ctrl-C (SIGINT) or SIGTERM."""

import re
import signal
import time

import pytest

from tests.demo_process import DemoProcess, kill_leftovers

SMALL = ("--stations", "2", "--days", "0.25", "--no-camera")


@pytest.fixture
def demo_factory(tmp_path):
    started: list[DemoProcess] = []

    def start(*args: str) -> DemoProcess:
        demo = DemoProcess(tmp_path / f"demo{len(started)}", *args)
        started.append(demo)
        return demo

    yield start
    for demo in started:
        demo.stop(signal.SIGKILL, timeout=10)
        kill_leftovers(str(demo.data))


def test_for_seconds_prints_three_lines_serves_the_dashboard_and_stops_cleanly(demo_factory):
    demo = demo_factory(*SMALL, "--for", "6")
    urls = demo.urls()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", urls["Dashboard"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", urls["Token"])
    assert re.fullmatch(r"mqtt://127\.0\.0\.1:\d+", urls["MQTT"])
    assert [line.split(":")[0] for line in demo.lines[:3]] == ["Dashboard", "Token", "MQTT"]
    assert demo.api("/api/v1/me") == (200, {"name": "demo-hq", "role": "hq"})
    status, stations = demo.api("/api/v1/stations")
    assert status == 200 and {s["id"] for s in stations} == {"oslo-sentrum", "oslo-majorstuen"}
    assert demo.api("/api/v1/me", token="not-a-token")[0] == 401
    began = time.monotonic()
    assert demo.proc.wait(60) == 0
    assert time.monotonic() - began < 30
    assert demo.leftovers() == []
    assert len(demo.lines) == 3, "nothing else on stdout: logs go to stderr"


def test_the_address_comes_once_hq_holds_the_history_and_the_back_fill_shows_its_progress(demo_factory):
    demo = demo_factory(*SMALL, "--for", "30")
    urls = demo.urls()
    progress = demo.stderr()  # everything logged before the address was printed
    assert "back-fill: [" in progress and "100 %  0.25 of 0.25 days" in progress
    assert "rollups: [##############################] 100 %" in progress
    status, hours = demo.api(f"/api/v1/metrics?station=oslo-sentrum&bucket=hour&end={time.strftime('%Y-%m-%dT%H:00:00Z', time.gmtime())}")
    assert status == 200 and len(hours) >= 5, "every finished hour of the 6 back-filled is rolled up"
    assert sum(sum(h["ratings"].values()) for h in hours) > 0
    assert urls["Dashboard"].startswith("http://")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_stops_everything_it_started(demo_factory, sig):
    demo = demo_factory(*SMALL)
    demo.urls()
    demo.wait_for(lambda: "live:" in demo.stderr(), 60, "the fleet to go live")
    running = demo.leftovers()
    assert any("mosquitto" in p for p in running) and any("collector" in p for p in running)
    assert demo.stop(sig) == 0
    assert demo.leftovers() == []


def test_a_data_directory_with_history_is_not_back_filled_twice(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    data.joinpath("collector.db").write_bytes(b"")
    demo = DemoProcess(tmp_path / "run", *SMALL, data=data)
    try:
        assert demo.proc.wait(60) == 1
        assert "--days 0" in demo.stderr() and demo.lines == []
        assert demo.leftovers() == []
    finally:
        demo.stop(signal.SIGKILL, timeout=10)
