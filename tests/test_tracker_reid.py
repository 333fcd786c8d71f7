"""Re-identification: a lost track gets its id back by where it could have gone and how it looked."""

import numpy as np
import pytest

from edge.vision.detection import Detection, Frame
from edge.vision.pipeline import Pipeline, Scene
from edge.vision.reid import LostTrack, distance_to_path, left_view, look_distance, look_of, with_looks
from edge.vision.tracker import Tracker

FPS = 7.0
RED = (40.0, 40.0, 200.0, 60.0, 50.0, 50.0)  # BGR torso, BGR legs
BLUE = (200.0, 60.0, 40.0, 50.0, 50.0, 60.0)


def box(x, y, score=0.9, look=None, label="person", w=40, h=100) -> Detection:
    """A box whose bottom-centre is (x, y)."""
    return Detection(x - w / 2, y - h, x + w / 2, y, score, label, look)


def ids(frames, tracker=None, **kw) -> list[set[int]]:
    tracker = tracker or Tracker()
    return [{t.id for t in tracker.update(dets, now, **kw)} for now, dets in frames]


def walk(x0, vx, hidden, until=6.0, y=300, look=None, score=0.9):
    """A person walking at vx px/s, unseen while ``hidden(t)``; 7 frames a second."""
    out, i = [], 0
    while i / FPS <= until:
        t = i / FPS
        out.append((t, [] if hidden(t) else [box(x0 + vx * t, y, score, look)]))
        i += 1
    return out


@pytest.mark.parametrize(("reid_s", "same"), [(3.0, True), (1.0, False)])
def test_a_person_hidden_for_two_seconds_at_walking_speed_keeps_their_id(reid_s, same):
    # 80 px/s is 0.8 body heights a second; hidden behind a pump from 2 s to 4 s.
    frames = walk(50, 80, lambda t: 2.0 <= t < 4.0)
    seen = ids(frames, Tracker(reid_s=reid_s))
    assert all(s == set() for (t, _), s in zip(frames, seen, strict=True) if 2.0 <= t < 4.0)
    assert (set().union(*seen) == {1}) is same


def test_a_person_who_stopped_behind_the_obstacle_keeps_their_id():
    frames = walk(50, 80, lambda t: t >= 2.0, until=4.4)  # last seen at 13/7 s
    stop_x = 50 + 80 * 13 / FPS
    frames += [(4.5 + i / FPS, [box(stop_x + 5, 300)]) for i in range(5)]  # 2.6 s later, where it stopped
    assert set().union(*ids(frames)) == {1}


def test_a_box_out_of_reach_of_the_lost_path_is_someone_else():
    # 1.5 s after the loss the reach is a box size x (0.5 + 1.5) ~ 126 px around the path; 220 px below is not it.
    frames = walk(50, 80, lambda t: t >= 2.0, until=3.4)
    frames += [(3.5 + i / FPS, [box(50 + 80 * 3.5, 520)]) for i in range(5)]
    seen = ids(frames)
    assert seen[-1] == {2}


def test_two_people_who_swapped_sides_while_hidden_are_told_apart_by_their_looks():
    # Red walks along y=200, blue along y=300; a van hides both for 1.5 s, in which they cross over:
    # red comes out on blue's line and blue on red's. By position alone the ids would swap.
    def frames(with_looks: bool):
        red, blue = (RED, BLUE) if with_looks else (None, None)
        out = []
        for i in range(int(5 * FPS)):
            t = i / FPS
            x = 60 + 80 * t
            if 2.0 <= t < 3.5:
                out.append((t, []))
            elif t < 2.0:
                out.append((t, [box(x, 200, 0.9, red), box(x, 300, 0.9, blue)]))
            else:
                out.append((t, [box(x, 300, 0.9, red), box(x, 200, 0.9, blue)]))
        return out

    def red_id(frames):
        tracker, got = Tracker(), []
        for now, dets in frames:
            tracks = tracker.update(dets, now)
            red_y = 200 if now < 2.0 else 300
            got.append({t.id for t in tracks if abs(t.y2 - red_y) < 20})
        return got

    looked = red_id(frames(True))
    assert set().union(*looked[:14]) == set().union(*looked[25:]) == {1}
    blind = red_id(frames(False))  # without looks the nearer path wins: red takes blue's id
    assert set().union(*blind[25:]) == {2}


def test_a_different_looking_person_where_someone_vanished_gets_a_new_id():
    frames = walk(50, 80, lambda t: t >= 2.0, until=2.9, look=RED)
    frames += [(3.0 + i / FPS, [box(50 + 80 * 3.0, 300, 0.9, BLUE)]) for i in range(5)]
    assert ids(frames)[-1] == {2}


def test_whoever_walks_in_where_someone_walked_out_of_the_picture_is_someone_else():
    # 320 px wide: one person leaves through the right edge, another comes in there a second later.
    out = [(i / FPS, [box(150 + 80 * i / FPS, 200)]) for i in range(int(1.9 * FPS))]
    gone = out[-1][0]
    clipped = Detection(300, 100, 320, 200, 0.9, "person")
    out.append((gone + 1 / FPS, [clipped]))  # last seen touching the border
    out += [(gone + i / FPS, []) for i in range(2, 8)]
    back = gone + 8 / FPS
    out += [(back + i / FPS, [Detection(300 - 10 * i, 100, 320 - 10 * i, 200, 0.9, "person")]) for i in range(4)]
    assert ids(out, frame_size=(320, 240))[-1] == {2}
    assert ids(out)[-1] == {1}  # without the picture's size the tracker cannot tell


def test_a_box_too_weak_to_start_a_track_does_not_bring_one_back():
    frames = walk(50, 80, lambda t: t >= 2.0, until=3.4)
    frames += [(3.5, [box(50 + 80 * 3.5, 300, 0.65)]), (3.5 + 1 / FPS, [box(50 + 80 * 3.64, 300, 0.9)])]
    seen = ids(frames)
    assert seen[-2:] == [set(), {1}]


def test_look_of_reads_upper_body_and_legs():
    image = np.zeros((200, 100, 3), np.uint8)
    image[:110] = (10, 20, 30)  # torso down to y=110
    image[110:] = (200, 150, 100)
    look = look_of(image, (20, 50, 80, 200))  # 20-50% down is y 80-125 -> mostly torso; 55-85% is 132-177
    assert look is not None and look[3:] == (200.0, 150.0, 100.0)
    assert look_of(image, (20, 50, 21, 51)) is None  # too small to hold a region
    (d,) = with_looks(image, [Detection(20, 50, 80, 200, 0.9, "person")])
    assert d.look == look


def test_look_distance_is_rms_per_channel():
    assert look_distance((0.0,) * 6, (10.0,) * 6) == pytest.approx(10.0)


def test_the_reach_covers_the_path_from_where_it_was_to_where_its_speed_would_take_it():
    lost = LostTrack((0, 0, 40, 100), 80.0, 0.0, 10.0, "person", 1.0)
    start, end, radius = lost.reach(12.0)
    assert start == (20, 50) and end == pytest.approx((180, 50)) and radius == pytest.approx(63.2 * 2.5, rel=0.01)
    assert distance_to_path((100, 80), start, end) == pytest.approx(30)
    assert distance_to_path((0, 50), start, end) == pytest.approx(20)
    assert left_view((0, 10, 20, 50), (320, 240)) and not left_view((10, 10, 30, 50), (320, 240))


class _Boxes:
    def __init__(self, by_frame):
        self.by_frame, self.i = by_frame, 0

    def detect(self, image):
        self.i += 1
        return self.by_frame[self.i - 1]


class _Spy(Tracker):
    def update(self, detections, now, *, frame_size=None):
        self.seen = (list(detections), frame_size)
        return super().update(detections, now, frame_size=frame_size)


def test_the_pipeline_gives_the_tracker_looks_and_the_picture_size():
    image = np.full((240, 320, 3), 90, np.uint8)
    tracker = _Spy()
    pipeline = Pipeline([Frame(image, 100.0)], _Boxes([[Detection(10, 10, 50, 110, 0.9, "person")]]), tracker,
                        Scene(), _Sink())
    pipeline.run()
    (det,), size = tracker.seen
    assert det.look == (90.0,) * 6 and size == (320, 240)


class _Sink:
    def emit(self, draft):
        pass
