"""The motion gate on real frames: walking people pass it, a still corner of the same clip does not."""

from pathlib import Path

import numpy as np
import pytest

from edge.config import DetectorConfig
from edge.vision.detection import Frame
from edge.vision.motion import MotionGate, changed_share, small_grey
from tools.footage import read_frames

FOOTAGE = Path(__file__).resolve().parents[1] / "examples" / "footage" / "vtest.avi"
BUILDING = (slice(0, 150), slice(0, 300))  # top-left: brick and grass, nobody walks there early on


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    """Frames 0, 2, ..., 38: four seconds at the 5 fps analysis rate."""
    return [image for _, image in read_frames(FOOTAGE, range(0, 40, 2))]


def frames(images, start=0.0, step=0.2):
    return [Frame(image=img, ts=start + i * step, index=i) for i, img in enumerate(images)]


def test_people_walking_are_motion(clip):
    gate = MotionGate()
    assert all(gate.check(f) for f in frames(clip))
    assert gate.stats() == {"frames_seen": 20, "frames_skipped": 0, "skipped_share": 0.0}


def test_a_still_scene_is_skipped_but_rechecked_after_max_gap(clip):
    gate = MotionGate(max_gap_s=2.0)
    still = [img[BUILDING].copy() for img in clip]
    decisions = [gate.check(f) for f in frames(still)]
    # The first frame is always analysed; the next only when 2 s of capture time have passed.
    assert [i for i, d in enumerate(decisions) if d] == [0, 10]
    assert gate.stats() == {"frames_seen": 20, "frames_skipped": 18, "skipped_share": 0.9}


def test_sensor_noise_is_not_motion(clip):
    rng = np.random.default_rng(0)
    base = clip[0]
    noisy = [np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8) for _ in range(5)]
    gate = MotionGate()
    assert [gate.check(f) for f in frames([base, *noisy])] == [True] + [False] * 5


def test_slow_change_accumulates_against_the_last_analysed_frame(clip):
    base = clip[0][BUILDING].copy()
    moved = []
    for shift in range(0, 12, 2):  # a white 20x20 block appears, then slides 2 px per frame
        img = base.copy()
        img[60:80, 100 + shift : 120 + shift] = 255
        moved.append(img)
    step = changed_share(small_grey(moved[1]), small_grey(moved[2]), 25)
    gate = MotionGate(min_area=0.008)
    assert step < gate.min_area  # frame-to-frame differencing would never fire on this slow mover
    assert [gate.check(f) for f in frames([base, *moved])] == [True, True, False, False, True, False, False]


def test_disabled_gate_passes_everything_and_config_wiring(clip):
    gate = MotionGate.from_config(DetectorConfig(motion_gate=False))
    still = [clip[0]] * 4
    assert all(gate.check(f) for f in frames(still)) and gate.stats()["frames_skipped"] == 0
    gate = MotionGate.from_config(DetectorConfig(motion_threshold=40, motion_min_area=0.05))
    assert (gate.threshold, gate.min_area, gate.enabled) == (40, 0.05, True)
