"""Tracker: association, the two stages, the lost buffer in seconds, and labels."""

import pytest

from edge.vision.detection import Detection
from edge.vision.tracker import Tracker, iou_matrix
from edge.vision.visits import PumpBay
from tests import scenes


def box(x: float, y: float, score: float = 0.9, label: str = "person", w: float = 40, h: float = 100) -> Detection:
    """A box whose bottom-centre is (x, y)."""
    return Detection(x - w / 2, y - h, x + w / 2, y, score, label)


def feed(tracker: Tracker, frames) -> list[list]:
    return [tracker.update(dets, now) for now, dets in frames]


def test_iou_matrix():
    import numpy as np

    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], float)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], float)
    assert iou_matrix(a, b)[0].tolist() == pytest.approx([1.0, 1 / 3, 0.0])


def test_weaker_later_tracks_are_confirmed_on_their_second_frame_and_ids_count_only_confirmed_tracks():
    t = Tracker()
    (first,) = t.update([box(100, 200, 0.75)], 0.0)  # the very first frame has nothing to confuse: confirmed at once
    assert first.id == 1 and first.first_seen == 0.0
    t.update([box(102, 200), box(400, 200, 0.75)], 0.1)  # a one-frame ghost at 400 never gets an id
    (again,) = t.update([box(104, 200)], 0.2)
    assert again.id == 1 and again.seen_at == 0.2
    assert [tr.id for tr in t.update([box(106, 200), box(300, 300, 0.75)], 0.3)] == [1]
    second = t.update([box(108, 200), box(300, 300, 0.75)], 0.4)
    assert sorted(tr.id for tr in second) == [1, 2]
    assert [tr.first_seen for tr in second if tr.id == 2] == [0.3]


def test_people_crossing_paths_keep_their_ids():
    # Two people walk towards each other at 100 px/s along the same line; their boxes overlap heavily
    # for a few frames. Constant-velocity prediction keeps them apart.
    frames = []
    for i in range(40):
        t = i / 10
        frames.append((t, [box(100 + 100 * t, 300, 0.9), box(500 - 100 * t, 305, 0.8)]))
    out = feed(Tracker(), frames)
    ids_left = {min(out[i], key=lambda tr: abs(tr.x1 + 20 - (100 + 10 * i))).id for i in range(2, 40)}
    assert len(ids_left) == 1


def test_weak_detections_keep_a_track_alive_but_never_start_one():
    t = Tracker()
    frames = [(i / 10, [box(100 + 5 * i, 200, 0.9 if i < 5 or i > 10 else 0.3)]) for i in range(15)]
    out = feed(t, frames)
    assert {tr.id for frame in out[1:] for tr in frame} == {1}
    assert all(len(frame) == 1 for frame in out[1:])  # matched through the score dip, not lost
    weak = Tracker()
    assert feed(weak, [(i / 10, [box(100, 200, 0.4)]) for i in range(10)])[-1] == []


@pytest.mark.parametrize("fps", [30, 5])
@pytest.mark.parametrize(("gap_s", "same"), [(0.8, True), (1.4, False)])
def test_lost_buffer_is_seconds_not_frames(fps, gap_s, same):
    t = Tracker(lost_s=1.0, reid_s=1.0)
    frames, i = [], 0
    while i / fps < 3.0:
        now = i / fps
        seen = not (1.0 <= now < 1.0 + gap_s)
        frames.append((now, [box(100 + 30 * now, 200)] if seen else []))
        i += 1
    ids = {tr.id for frame in feed(t, frames) for tr in frame}
    assert (ids == {1}) is same


def test_speed_is_in_pixels_per_second():
    frames = [(i / 5, [box(100 + 100 * i / 5, 200)]) for i in range(15)]
    last = feed(Tracker(), frames)[-1][0]
    assert last.vx == pytest.approx(100, rel=0.1) and abs(last.vy) < 10


def test_car_truck_flicker_is_one_vehicle_and_a_person_never_takes_a_car_track():
    t = Tracker()
    frames = []
    for i in range(10):
        label = "truck" if i % 3 == 2 else "car"
        frames.append((i / 5, [box(300, 300, 0.9, label, 120, 90), box(300, 300, 0.9, "person", 110, 85)]))
    out = feed(t, frames)
    assert sorted((tr.id, tr.label) for tr in out[-1]) == [(1, "car"), (2, "person")]


def test_detections_through_the_tracker_give_the_scripted_visit():
    scene = scenes.forecourt()
    car_b, attendant_b = scene.actors[4], scene.actors[5]
    times = scenes.frame_times(0, 36, 5, jitter=0.2, seed=3)  # the car leaves at 27 s: past its merge window
    bay = PumpBay("bay-2", **scene.bays["bay-2"])
    tracker, visits = Tracker(), []
    for now, dets in scenes.detections([car_b, attendant_b], times, jitter=1.5):
        visits += bay.update(tracker.update(dets, now), now)
    (got,) = visits
    (truth,) = [v for v in scene.visits if v.bay == "bay-2"]
    assert got.stopped_at - scenes.T0 == pytest.approx(truth.stopped_at, abs=0.3)
    assert got.greet_s == pytest.approx(truth.greeted_at - truth.stopped_at, abs=0.3)
    assert got.dwell_s == pytest.approx(truth.departed_at - truth.arrived_at, abs=0.3)


@pytest.mark.parametrize(("fps", "same"), [(25, False), (5, True)])
def test_the_association_gate_widens_when_frames_come_slowly(fps, same):
    # A box that jumps 26 px sideways overlaps its prediction at IoU ~0.21: a different object at 25 fps,
    # plausibly the same one at 5 fps.
    t = Tracker()
    frames = [(i / fps, [box(100, 200)]) for i in range(5)] + [(5 / fps, [box(126, 200)]), (6 / fps, [box(126, 200)])]
    out = feed(t, frames)
    assert ([tr.id for tr in out[-1]] == [1]) is same
