"""A simulated station back-fills a day through the real path: MockFactory pins -> sensor logic on a
simulated clock -> outbox -> publisher -> a real Mosquitto, and every planned press and visit arrives."""

import json
import time
from collections import Counter

import pytest

from forecourt.demo.driver import SimulatedStation
from forecourt.demo.fleet import station_config
from forecourt.demo.simulator import DAY_S, Profile, plan
from tests.mqtt import Recorder

START = 20_402 * DAY_S  # a Monday at midnight UTC (2025-11-10)


def test_a_day_of_history_arrives_at_the_broker_exactly_as_planned(broker, tmp_path):
    profile = Profile("a", "Station A", "east/a", quality=0.7, peak_vehicles_per_hour=20,
                      cleaner_skips=True, kiosk_hammered=True)
    config = station_config(profile, 0, data_dir=tmp_path, broker_url=broker.url, password=broker.users["a"])
    expected = plan(profile, config, START, START + DAY_S, seed=7)
    recorder = Recorder(broker, "forecourt/v1/a/event/#")
    station = SimulatedStation(profile, config, start=START, seed=7).start()
    try:
        station.replay(START + DAY_S)
        stats = station.service.sensors.stats()
        stored = station.service.outbox.stats().last_seq
        assert recorder.wait_for(lambda msgs: len({json.loads(m[1])["seq"] for m in msgs}) >= stored, timeout=20)
    finally:
        station.stop()
        recorder.close()

    events = {json.loads(payload)["seq"]: json.loads(payload) for _, payload, _ in recorder.messages}
    assert sorted(events) == list(range(1, stored + 1)), "every seq once, none missing"
    kinds = Counter(e["kind"] for e in events.values())

    checkin_pins = {r.button_pin for r in config.restrooms}
    planned_checkins = [p for p in expected.presses if p.pin in checkin_pins]
    assert kinds["cleaning"] == len(planned_checkins)
    flagged = [e for e in events.values() if e["kind"] == "cleaning" and e.get("flag")]
    assert len(flagged) == sum(p.why.endswith("again") for p in planned_checkins)

    score_pins = {pin for k in config.kiosks for pin in k.buttons}
    score_presses = sum(p.pin in score_pins for p in expected.presses)
    filtered = sum(stats["filtered_presses"].values())
    assert filtered > 0, "the hammered kiosk's bursts fall inside the response interval"
    assert kinds["rating"] + filtered == score_presses

    assert kinds["visit"] == len(expected.visits)
    dwell = sorted(round(e["dwell_s"], 3) for e in events.values() if e["kind"] == "visit")
    assert dwell == sorted(round(v.departed_at - v.arrived_at, 3) for v in expected.visits)

    overdue = [e for e in events.values() if e["kind"] == "alert" and e["alert"] == "restroom_overdue"]
    assert overdue, "the skipped afternoon makes a restroom overdue"
    times = sorted(e["ts"] for e in events.values())
    assert times[0] >= "2025-11-10T00:00:00.000Z" and times[-1] < "2025-11-11T00:00:00.000Z"


@pytest.mark.parametrize("camera", [False, True], ids=["simulated-visits", "camera-station"])
def test_live_play_follows_the_plan_across_horizons(broker, tmp_path, camera):
    profile = Profile("a", "Station A", "east/a", peak_vehicles_per_hour=40, camera=camera)
    config = station_config(profile, 0, data_dir=tmp_path, broker_url=broker.url, password=broker.users["a"])
    now = time.time()
    station = SimulatedStation(profile, config, start=now - 60, seed=3).start()
    try:
        station.replay(now)
        in_history, visits_in_history = station.presses, station.visits
        station.go_live()
        steps = [now + s for s in (1000.0, 2500.0, 4000.0, 6500.0)]  # crosses the planning horizon several times
        for step in steps:
            station.advance(step)
        expected = plan(profile, config, now, steps[-1], seed=3)  # history ended at now; live goes on from there
        settled = [p for p in expected.presses if p.at + p.hold_s + 0.1 <= steps[-1]]  # a press counts once released
        assert station.presses - in_history == len(settled) > 0
        live_visits = station.visits - visits_in_history
        assert live_visits == (0 if camera else len([v for v in expected.visits if v.departed_at <= steps[-1]]))
        assert camera or live_visits > 0
    finally:
        station.stop()
