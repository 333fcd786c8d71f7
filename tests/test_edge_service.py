"""The edge service wired whole: mock GPIO pins -> sensors -> outbox -> publisher -> a real Mosquitto."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edge.events import Draft
from edge.service import EdgeService, GuardedSink
from forecourt.protocol import CleaningBody, VisitBody
from tests.link_helpers import Collector, Unreachable, station_config
from tests.mqtt import Recorder

T0 = 1_795_430_000.0
KIOSK = {"id": "shop", "location": "shop", "scale": 3, "buttons": [17, 27, 22], "response_interval_s": 4}


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def press(factory, clock: Clock, pin: int, *, bounces: int = 2, hold_s: float = 0.2) -> None:
    """A press as a cheap arcade button makes it: a few bounces within ~5 ms, then a clean hold."""
    device = factory.pin(pin)
    for _ in range(bounces):
        device.drive_low()
        clock.t += 0.002
        device.drive_high()
        clock.t += 0.002
    device.drive_low()
    clock.t += hold_s
    device.drive_high()


def test_a_kiosk_press_reaches_hq_as_one_rating_and_filtered_presses_reach_health(broker, tmp_path, mock_factory):
    collector = Collector(broker)
    clock = Clock(T0)
    config = station_config(broker, tmp_path, kiosks=[KIOSK], health={"interval_s": 60})
    service = EdgeService(config, pin_factory=mock_factory, clock=clock, notify_systemd=False).start()
    try:
        press(mock_factory, clock, 22)  # happiest
        clock.t += 1.0
        press(mock_factory, clock, 17)  # inside the response interval: filtered, not a rating
        clock.t += 0.5
        first = service.tick()  # the first tick samples health at once
        assert first is not None and first.filtered_presses == {"shop": 1}
        assert service.tick() is None  # the next is due in 60 s
        clock.t += 60
        assert service.tick() is not None
        assert collector.wait_for(lambda c: len(c.events) >= 2 and len(c.health) >= 2)
        assert [(e["kind"], e["seq"], e["kiosk"], e.get("score"), e.get("presses")) for e in collector.events] == [
            ("rating", 1, "shop", 3, None), ("filtered_presses", 2, "shop", None, 1)  # the second press: a burst
        ]
        assert [h["filtered_presses"] for h in collector.health] == [{"shop": 1}, {"shop": 1}]
        assert collector.health[1]["uptime_s"] == pytest.approx(61.5 + 2 * 0.208)
    finally:
        service.stop()
        service.stop()  # twice is harmless (signal handler and finally both call it)
        stopped = collector.wait_for(lambda c: c.statuses and c.statuses[-1][0] == {"state": "offline"})
        collector.close()
    assert stopped, collector.statuses[-1:]


def test_a_restart_keeps_the_restrooms_clock_so_a_power_cut_does_not_postpone_overdue(tmp_path, mock_factory):
    clock = Clock(T0)
    restroom = {"id": "ladies", "button_pin": 5, "interval_min": 60}
    config = station_config(Unreachable(), tmp_path, restrooms=[restroom])
    first = EdgeService(config, pin_factory=mock_factory, clock=clock, notify_systemd=False).start()
    press(mock_factory, clock, 5)
    cleaned_at = T0 + 4 * 0.002  # the press is dated at its first contact after the bounces settle
    first.tick()
    first.stop()  # the power goes; the Pi boots 50 minutes later
    mock_factory.reset()
    clock.t = T0 + 50 * 60
    second = EdgeService(config, pin_factory=mock_factory, clock=clock, notify_systemd=False).start()
    try:
        assert second.sensors.stats()["overdue"] == []
        clock.t = T0 + 61 * 60
        second.tick()
        assert [r["restroom"] for r in second.sensors.stats()["overdue"]] == ["ladies"]
        assert second.outbox.last_check_ins() == {"ladies": pytest.approx(cleaned_at, abs=0.01)}
    finally:
        second.stop()


def test_without_a_broker_the_station_records_and_reports_it_in_health(tmp_path, mock_factory):
    clock = Clock(T0)
    service = EdgeService(station_config(Unreachable(), tmp_path, kiosks=[KIOSK]), pin_factory=mock_factory,
                          clock=clock, notify_systemd=False).start()
    try:
        press(mock_factory, clock, 22, bounces=0)
        clock.t += 1
        service.tick()
        deadline = time.monotonic() + 5
        while service.publisher.last_error is None and time.monotonic() < deadline:
            time.sleep(0.02)
        health = service.sample_health()
        assert (health.outbox_depth, service.outbox.stats().events, health.published) == (2, 1, 0)  # + a health sample
        assert health.extra["link_connected"] is False and "cannot reach broker" in health.extra["link_last_error"]
    finally:
        service.stop()


def test_an_invalid_draft_from_a_subsystem_is_counted_not_raised_into_its_thread(tmp_path, caplog):
    service = EdgeService(station_config(Unreachable(), tmp_path), notify_systemd=False).start()
    try:
        guard = GuardedSink(service.outbox, "vision")
        service._guards["vision"] = guard
        guard.emit(Draft(T0, VisitBody.model_construct(bay="bay-1")))  # a visit without its times
        guard.emit(Draft(T0, CleaningBody(restroom="ladies")))  # the next one is unaffected
        assert service.outbox.stats().last_seq == 1
        assert service.sample_health().extra["invalid_drafts"] == {"vision": 1}
        assert any("vision produced an invalid visit event" in r.getMessage() for r in caplog.records)
    finally:
        service.stop()


def test_a_camera_that_cannot_start_leaves_the_buttons_running(broker, tmp_path, mock_factory):
    config = station_config(
        broker, tmp_path, kiosks=[KIOSK],
        camera={"source": str(tmp_path / "no-such-video.mp4")}, detector={"model": str(tmp_path / "missing.onnx")},
    )
    service = EdgeService(config, pin_factory=mock_factory, notify_systemd=False).start()
    try:
        assert service.vision is None and service.sensors is not None
        assert "missing.onnx" in service.sample_health().extra["vision_error"]
    finally:
        service.stop()


def test_forecourt_edge_runs_until_sigterm_and_leaves_offline_behind(broker, tmp_path):
    path = tmp_path / "station.toml"
    path.write_text(
        f'[station]\nid = "a"\n[mqtt]\nurl = "{broker.url}"\npassword = "{broker.users["a"]}"\n'
        f'[outbox]\npath = "{tmp_path / "outbox.db"}"\n'
        '[[kiosks]]\nid = "shop"\nlocation = "shop"\nscale = 3\nbuttons = [17, 27, 22]\n'
    )
    status = Recorder(broker, topic="forecourt/v1/a/status")
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    edge = subprocess.Popen(
        [sys.executable, "-m", "forecourt", "edge", "--config", str(path), "--simulate"],
        env=env, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert status.wait_for(lambda msgs: any(json.loads(p)["state"] == "online" for _, p, _ in msgs), timeout=30)
        edge.send_signal(signal.SIGTERM)
        assert edge.wait(15) == 0
        assert status.wait_for(lambda msgs: json.loads(msgs[-1][1]) == {"state": "offline"})
    finally:
        if edge.poll() is None:
            edge.kill()
            edge.wait()
        status.close()
    assert "SIGTERM received; stopping" in edge.stderr.read()


def test_a_camera_station_runs_vision_and_reports_its_fps_in_health(tmp_path):
    footage = Path(__file__).resolve().parents[1] / "examples" / "footage" / "vtest.avi"

    config = station_config(
        Unreachable(), tmp_path, camera={"source": str(footage), "fps": 10},
        zones=[{"id": "door", "polygon": [[0, 0], [300, 0], [300, 300], [0, 300]], "classes": ["person"]}],
    )
    service = EdgeService(config, notify_systemd=False).start()
    try:
        assert service.vision is not None, service.vision_error
        deadline = time.monotonic() + 20
        while service.vision.stats()["frames"] < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        health = service.sample_health()
        assert health.camera_ok is True and health.camera_fps > 0
        assert health.extra["vision"]["frames"] >= 5
    finally:
        service.stop()
    assert service.vision is None


def test_run_tells_systemd_ready_then_what_the_link_is_doing(broker, tmp_path, monkeypatch):
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(10)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.delenv("WATCHDOG_USEC", raising=False)
        service = EdgeService(station_config(broker, tmp_path))
        runner = threading.Thread(target=service.run)
        runner.start()
        try:
            said = [sock.recv(4096).decode()]
            while not said[-1].startswith("STATUS=") or "connected" not in said[-1]:
                said.append(sock.recv(4096).decode())
        finally:
            service.request_stop()
            runner.join(10)
        said.append(sock.recv(4096).decode())
    assert said[0] == "READY=1"
    assert said[-2] == f"STATUS=station a: connected to {broker.url}"
    assert said[-1] == "STOPPING=1"
