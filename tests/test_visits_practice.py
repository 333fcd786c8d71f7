"""Issue 21's visit cases on synthetic track sequences at irregular frame rates (3-7 fps, jitter, drops).

Each test scripts the scene, so the truth is known, and compares whole visit records with it.
"""

import pytest

from edge.config import ZoneConfig
from edge.vision.visits import PumpBay, VisitRecord
from tests import scenes
from tests.scenes import BAY1, CAR, SERVICE1, T0, Actor

SEEDS = range(20)


def irregular(seed: int, end: float, drop: float = 0.2) -> tuple[list[float], float]:
    """Frame times at 3-7 fps (by seed), jittered by 30% of an interval and ``drop`` of them lost; and the
    longest gap between two frames."""
    times = scenes.frame_times(0, end, 3 + seed % 5, jitter=0.3, drop=drop, seed=seed)
    return times, max(b - a for a, b in zip(times, times[1:], strict=False))


def visits(actors: list[Actor], times: list[float], **bay_args) -> list[VisitRecord]:
    bay = PumpBay("bay-1", BAY1, service_area=SERVICE1, **bay_args)
    out, now = [], T0
    for now, frame in scenes.tracks(actors, times):
        out += bay.update(frame, now)
    return out + bay.close(now)


def record(v: VisitRecord) -> tuple:
    """A visit as scene seconds, for comparing with the truth."""
    greeted = None if v.greeted_at is None else v.greeted_at - T0
    return v.bay, v.arrived_at - T0, v.stopped_at - T0, greeted, v.departed_at - T0, v.merged_gaps


def approx(value: float, tol: float):
    return pytest.approx(value, abs=tol)


def braking_car(t_leave: float = 30.0) -> tuple[Actor, float]:
    path, stopped = scenes.braking(200, 60, 160, 340, speed=120.0)  # brakes for 3 s from 120 px/s
    return Actor(1, "car", path + [(t_leave, 200, 340), (t_leave + 2, 200, 540)], CAR), stopped


def queued_car() -> tuple[Actor, float]:
    path, stopped = scenes.braking(200, 100, 150, 340, speed=100.0, t0=8.0)  # waits at y = 100 until 8 s
    return Actor(1, "car", [(0, 200, 100), *path, (30, 200, 340), (32, 200, 540)], CAR), stopped


@pytest.mark.parametrize("scene", [braking_car, queued_car], ids=["gentle-braking", "queued-then-braking"])
@pytest.mark.parametrize("seed", SEEDS)
def test_the_stop_is_within_half_a_second_of_the_truth(scene, seed):
    car, stopped = scene()
    times, gap = irregular(seed, 35)
    arrived = car.crossing(BAY1, entering=True)
    departed = car.crossing(BAY1, entering=False, after=arrived)
    (got,) = visits([car], times)
    assert record(got) == ("bay-1", approx(arrived, gap), approx(stopped, 0.5), None, approx(departed, gap), 0)


@pytest.mark.parametrize("seed", SEEDS)
def test_min_fps_is_what_the_edge_sampled_not_its_worst_two_seconds(seed):
    car, _ = braking_car()
    times, _ = irregular(seed, 35)
    (got,) = visits([car], times)
    nominal = 3 + seed % 5
    assert got.min_fps is not None and 2.0 <= got.min_fps <= nominal  # 20% of frames dropped


def test_min_fps_shows_a_stall():
    car, _ = braking_car()
    times = [t for t in scenes.frame_times(0, 35, 5) if not 12 <= t < 17]  # the Pi froze for 5 s
    (got,) = visits([car], times)
    assert got.min_fps == pytest.approx(2.5, abs=0.15)  # 25 frames in the worst 10 s


def rolls_out_and_back(out_s: float) -> Actor:
    """Stops at 2.8 s; at 20 s rolls forward out of the bay (its edge is y = 400, crossed at 20 1/3 s),
    waits, and rolls back in ``out_s`` after it left, to stop again 1/3 s later; leaves at 40 s."""
    back_at = 20 + 1 / 6 + out_s  # the half-second roll back crosses y = 400 after 1/6 s
    path = [(0, 200, 60), (2.8, 200, 340), (20, 200, 340), (20.5, 200, 430), (back_at, 200, 430),
            (back_at + 0.5, 200, 340), (40, 200, 340), (42, 200, 540)]
    return Actor(1, "car", path, CAR)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_car_rolling_2_3_s_out_of_the_bay_and_back_is_one_visit(seed):
    car = rolls_out_and_back(2.3)
    arrived = car.crossing(BAY1, entering=True)
    left = car.crossing(BAY1, entering=False, after=arrived)
    back = car.crossing(BAY1, entering=True, after=left)
    departed = car.crossing(BAY1, entering=False, after=back)
    assert back - left == pytest.approx(2.3, abs=0.01)
    times, gap = irregular(seed, 45)
    got = visits([car], times)
    assert [record(v) for v in got] == [("bay-1", approx(arrived, gap), approx(2.8, 0.5), None, approx(departed, gap), 1)]


def test_out_of_the_bay_longer_than_the_merge_window_is_two_visits():
    car = rolls_out_and_back(8.0)
    arrived = car.crossing(BAY1, entering=True)
    left = car.crossing(BAY1, entering=False, after=arrived)
    back = car.crossing(BAY1, entering=True, after=left)
    departed = car.crossing(BAY1, entering=False, after=back)
    times, gap = irregular(3, 45)
    assert [record(v) for v in visits([car], times)] == [
        ("bay-1", approx(arrived, gap), approx(2.8, 0.5), None, approx(left, gap), 0),
        ("bay-1", approx(back, gap), approx(back + 1 / 3, 0.5), None, approx(departed, gap), 0),
    ]


def test_the_merge_window_is_configurable():
    times, _ = irregular(3, 45)
    assert len(visits([rolls_out_and_back(2.3)], times, merge_window_s=0)) == 2
    config = ZoneConfig(id="bay-1", kind="pump_bay", polygon=BAY1)
    assert (config.merge_window_s, PumpBay.from_config(config).merge_window_s) == (5.0, 5.0)
    assert PumpBay.from_config(config.model_copy(update={"merge_window_s": 8.0})).merge_window_s == 8.0


def parked_car() -> Actor:
    return Actor(1, "car", [(0, 200, 60), (2.8, 200, 340), (40, 200, 340), (42, 200, 540)], CAR)


# The driver gets out at the car, walks to the shop (off to the bottom left) and is lost there; a new
# track comes back out of that door, walks into the service area, stands by the car and gets in.
DRIVER = Actor(2, "person", [(6, 120, 350), (9, 110, 350), (10, 20, 350), (12, 20, 580)])
BACK_FROM_THE_SHOP = Actor(9, "person", [(30, 20, 580), (32, 110, 430), (38, 110, 430), (39, 120, 350)])


@pytest.mark.parametrize("seed", SEEDS)
def test_a_driver_back_from_the_shop_under_a_new_track_id_is_no_greeting(seed):
    times, gap = irregular(seed, 45)
    got = visits([parked_car(), DRIVER, BACK_FROM_THE_SHOP], times)
    arrived = parked_car().crossing(BAY1, entering=True)
    departed = parked_car().crossing(BAY1, entering=False, after=arrived)
    assert [record(v) for v in got] == [("bay-1", approx(arrived, gap), approx(2.8, gap), None, approx(departed, gap), 0)]


@pytest.mark.parametrize("seed", SEEDS)
def test_an_attendant_after_the_driver_is_back_still_greets(seed):
    attendant = Actor(3, "person", [(33, 250, 590), (35, 250, 430), (39, 250, 430), (41, 250, 590)])
    times, gap = irregular(seed, 45)
    (got,) = visits([parked_car(), DRIVER, BACK_FROM_THE_SHOP, attendant], times)
    assert got.greeted_at - T0 == pytest.approx(attendant.crossing(SERVICE1, entering=True), abs=gap)


def test_with_a_uniform_hint_a_uniformed_attendant_first_seen_at_the_car_greets():
    # Re-found beside the car under a new id (the tracker lost them behind it): an occupant by origin.
    refound = Actor(5, "person", [(8, 310, 350), (20, 310, 350), (22, 310, 600)])
    times = scenes.frame_times(0, 45, 5)
    for uniform_required, marked, greeted in ((False, (), None), (True, (), None), (True, (5,), 8.0)):
        bay = PumpBay("bay-1", BAY1, service_area=SERVICE1, uniform_required=uniform_required)
        got, now = [], T0
        for now, frame in scenes.tracks([parked_car(), refound], times):
            got += bay.update(frame, now, uniformed=marked)
        (visit,) = got + bay.close(now)
        assert (None if visit.greeted_at is None else round(visit.greeted_at - T0, 1)) == greeted
