"""The stop-time fit on sightings with known truth: abrupt and smooth stops, standing starts, no approach."""

import random

import pytest

from edge.vision.stopping import stop_time


def sightings(y_at, times, jitter=1.0, seed=0):
    """Bottom-centre points at ``times`` along x = 200, y = y_at(t), shaken by up to ``jitter`` px."""
    rng = random.Random(seed)
    return [(t, (200 + rng.uniform(-jitter, jitter), y_at(t) + rng.uniform(-jitter, jitter))) for t in times]


def abrupt(t):  # 100 px/s, stops dead at 4.0 s
    return min(340.0, 100.0 + 60.0 * t)


def smooth(t):  # 120 px/s, brakes evenly from 1 s to rest at 4 s (180 px)
    if t <= 1:
        return 160 + 120 * (t - 1)
    u = min(t, 4.0) - 1
    return 160 + 120 * u - 20 * u * u


def queued(t):  # stands at y = 100 until 8 s, then pulls in and brakes evenly to rest at 11 s
    if t <= 8:
        return 100.0
    u = min(t, 11.0) - 8
    return 100 + 160 * u - 80 / 3 * u * u


def still_from(path, radius=9.0):
    """The first frame of the last run within ``radius`` of its first frame, as the bay finds it."""
    start = path[0]
    for t, p in path:
        if abs(p[1] - start[1][1]) > radius or abs(p[0] - start[1][0]) > radius:
            start = (t, p)
    return start[0]


@pytest.mark.parametrize("fps", [3, 5, 15, 30])
@pytest.mark.parametrize(("y_at", "stopped", "end"), [(abrupt, 4.0, 7.5), (smooth, 4.0, 7.5), (queued, 11.0, 14.5)])
@pytest.mark.parametrize("seed", range(5))
def test_the_fit_finds_the_stop_within_a_fifth_of_a_second(y_at, stopped, end, fps, seed):
    rng = random.Random(seed)
    times = sorted(i / fps + rng.uniform(-0.3, 0.3) / fps for i in range(1, int(end * fps)))  # jittered
    path = sightings(y_at, [t for t in times if rng.random() > 0.2], seed=seed)  # and a fifth dropped
    path = [(t, p) for t, p in path if t >= end - 6.5]  # what a bay keeps: the last seconds
    first_still = still_from(path)
    assert stop_time(path, first_still, path[-1][0], radius=9.0) == pytest.approx(stopped, abs=0.2)


def test_first_seen_already_standing_is_dated_at_its_first_frame():
    path = sightings(lambda t: 340.0, [i / 5 for i in range(20)])
    assert stop_time(path, 0.0, path[-1][0], radius=9.0) == 0.0


def test_one_moving_frame_is_no_approach_to_fit():
    path = [(0.0, (200.0, 300.0)), (0.5, (200.0, 340.0)), (1.0, (200.0, 340.0)), (3.5, (200.0, 340.5))]
    assert stop_time(path, 0.5, 3.5, radius=9.0) == 0.5
