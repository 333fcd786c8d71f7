"""Visit state machine on scripted scenes with known truth, at 15 fps and at a jittery 3 fps."""

import pytest

from edge.vision.visits import PumpBay, VisitRecord
from forecourt.protocol import Visit
from tests import scenes
from tests.scenes import T0, Actor, rect


def run(scene: scenes.Scene, times: list[float], **bay_args) -> tuple[dict[str, list[VisitRecord]], dict[str, int]]:
    bays = {bid: PumpBay(bid, **kw, **bay_args) for bid, kw in scene.bays.items()}
    out: dict[str, list[VisitRecord]] = {bid: [] for bid in bays}
    now = T0
    for now, frame in scenes.tracks(scene.actors, times):
        for bid, bay in bays.items():
            out[bid] += bay.update(frame, now)
    for bid, bay in bays.items():
        out[bid] += bay.close(now)
    return out, {bid: bay.passes for bid, bay in bays.items()}


STREAMS = {
    "15fps": scenes.frame_times(0, 45, 15),
    "3fps-jittered": scenes.frame_times(0, 45, 3, jitter=0.3, drop=0.05, seed=7),
}


def interval(name: str) -> float:
    times = STREAMS[name]
    return max(b - a for a, b in zip(times, times[1:], strict=False))


@pytest.fixture(scope="module", params=list(STREAMS))
def result(request):
    return request.param, *run(scenes.forecourt(), STREAMS[request.param])


def test_one_visit_per_stopped_car_and_the_pass_through_is_counted(result):
    _, visits, passes = result
    assert [len(v) for v in visits.values()] == [1, 1]
    assert passes == {"bay-1": 0, "bay-2": 1}


@pytest.mark.parametrize("bay", ["bay-1", "bay-2"])
def test_times_within_one_frame_interval_of_truth(result, bay):
    name, visits, _ = result
    (got,) = visits[bay]
    (truth,) = [t for t in scenes.forecourt().visits if t.bay == bay]
    tol = interval(name)
    assert got.arrived_at - T0 == pytest.approx(truth.arrived_at, abs=tol)
    assert got.stopped_at - T0 == pytest.approx(truth.stopped_at, abs=tol)
    assert got.departed_at - T0 == pytest.approx(truth.departed_at, abs=tol)
    # The driver (first seen at the car) and the passer-by (1.4 s in the service area) must not count.
    assert got.greeted_at is not None and got.greet_s is not None
    assert got.greet_s == pytest.approx(truth.greeted_at - truth.stopped_at, abs=tol)
    assert got.dwell_s == pytest.approx(truth.departed_at - truth.arrived_at, abs=tol)


def test_occlusion_and_id_switch_continue_the_visit(result):
    name, visits, _ = result
    (got,) = visits["bay-1"]
    assert got.merged_gaps == 2
    assert got.track_ids == (1, 7)
    assert got.occluded_s == pytest.approx(4.0, abs=interval(name))


def test_min_fps_reports_the_stream_rate(result):
    name, visits, _ = result
    (got,) = visits["bay-2"]
    nominal = 15 if name == "15fps" else 3
    assert got.min_fps is not None and 0.5 * nominal <= got.min_fps <= 1.05 * nominal


def test_15fps_and_jittered_3fps_agree_within_one_slow_interval():
    fast, _ = run(scenes.forecourt(), STREAMS["15fps"])
    slow, _ = run(scenes.forecourt(), STREAMS["3fps-jittered"])
    tol = interval("3fps-jittered")
    for bay in fast:
        a, b = fast[bay][0], slow[bay][0]
        for name in ("arrived_at", "stopped_at", "greeted_at", "departed_at", "greet_s", "dwell_s", "occluded_s"):
            assert getattr(a, name) == pytest.approx(getattr(b, name), abs=tol), name


def test_visit_draft_is_a_valid_protocol_visit(result):
    _, visits, _ = result
    draft = visits["bay-1"][0].to_draft()
    event = Visit(id="abcdef012345", seq=1, station="st-1", ts=visits["bay-1"][0].to_draft().fields["departed_at"],
                  kind=draft.kind, **draft.fields)
    assert event.bay == "bay-1" and event.greet_s == draft.fields["greet_s"]


def car_stops_and_leaves(**kw) -> Actor:
    return Actor(1, "car", [(0, 200, 60), (2.8, 200, 340), (20, 200, 340), (22, 200, 540)], scenes.CAR, **kw)


def test_never_greeted_visit_has_no_greet_time():
    scene = scenes.Scene([car_stops_and_leaves()], {"bay-1": {"polygon": scenes.BAY1}}, [])
    visits, _ = run(scene, scenes.frame_times(0, 25, 5))
    (got,) = visits["bay-1"]
    assert got.greeted_at is None and got.greet_s is None
    assert got.to_draft().fields["greet_s"] is None


def test_attendant_waiting_in_the_bay_greets_the_car_as_it_stops():
    attendant = Actor(3, "person", [(0, 250, 590), (1, 250, 430), (25, 250, 430)])
    scene = scenes.Scene([car_stops_and_leaves(), attendant], {"bay-1": {"polygon": scenes.BAY1,
                                                                      "service_area": scenes.SERVICE1}}, [])
    visits, _ = run(scene, scenes.frame_times(0, 25, 5))
    (got,) = visits["bay-1"]
    assert got.greet_s == pytest.approx(0.0)


def test_uniform_hint_ignores_people_not_marked_uniformed():
    attendant = Actor(3, "person", [(5, 250, 590), (7, 250, 430), (25, 250, 430)])
    scene = scenes.Scene([car_stops_and_leaves(), attendant], {"bay-1": {"polygon": scenes.BAY1,
                                                                      "service_area": scenes.SERVICE1}}, [])
    times = scenes.frame_times(0, 25, 5)
    for marked, greeted in (((), False), ((3,), True)):
        bay = PumpBay("bay-1", scenes.BAY1, service_area=scenes.SERVICE1, uniform_required=True)
        got = []
        for now, frame in scenes.tracks(scene.actors, times):
            got += bay.update(frame, now, uniformed=marked)
        got += bay.close(now)
        assert (got[0].greeted_at is not None) is greeted


def test_new_car_after_a_departure_is_a_new_visit_not_a_merge():
    first = car_stops_and_leaves()
    second = Actor(2, "car", [(23, 200, 60), (25.8, 200, 340), (40, 200, 340)], scenes.CAR)
    scene = scenes.Scene([first, second], {"bay-1": {"polygon": scenes.BAY1}}, [])
    visits, _ = run(scene, scenes.frame_times(0, 40, 5))
    assert [v.track_ids for v in visits["bay-1"]] == [(1,), (2,)]
    assert visits["bay-1"][1].stopped_at - T0 == pytest.approx(25.8, abs=0.2)


def test_car_lost_for_longer_than_roll_off_departs_when_last_seen():
    car = Actor(1, "car", [(0, 200, 60), (2.8, 200, 340), (30, 200, 340)], scenes.CAR, hidden=[(10, 30)])
    scene = scenes.Scene([car], {"bay-1": {"polygon": rect(100, 200, 300, 400)}}, [])
    visits, _ = run(scene, scenes.frame_times(0, 30, 5), roll_off_s=5.0)
    (got,) = visits["bay-1"]
    assert got.departed_at - T0 == pytest.approx(9.8, abs=0.21)
    assert got.merged_gaps == 0


def test_a_driver_who_gets_out_beside_the_car_and_walks_to_the_pump_is_not_the_attendant():
    # The service area is only the pump side (right of the car); the driver appears on the left, at
    # the car but outside the service area, walks round and stays at the pump.
    pump_side = rect(270, 250, 360, 420)
    driver = Actor(2, "person", [(5, 130, 345), (7, 130, 400), (9, 300, 400), (20, 300, 400)])
    scene = scenes.Scene([car_stops_and_leaves(), driver], {"bay-1": {"polygon": scenes.BAY1,
                                                                   "service_area": pump_side}}, [])
    visits, _ = run(scene, scenes.frame_times(0, 25, 5))
    (got,) = visits["bay-1"]
    assert got.greeted_at is None
