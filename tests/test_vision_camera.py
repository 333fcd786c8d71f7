"""Camera sources on the real clip (and a short clip cut from it), with an injected clock: no real waiting."""

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import CameraConfig
from edge.vision.camera import Backoff, Camera, is_live, parse_source
from tools.footage import read_frames

FOOTAGE = Path(__file__).resolve().parents[1] / "examples" / "footage" / "vtest.avi"
EPOCH = 1_800_000_000.0


class FakeClock:
    """Monotonic + wall clock that only moves when the code under test sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def camera(source: str, clock: FakeClock, fps: float = 5.0, **kw) -> Camera:
    cfg = CameraConfig(source=source, fps=fps, retry_max_s=4.0)
    return Camera(cfg, clock=clock, wall=clock.wall, sleep=clock.sleep, **kw)


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> Path:
    """The first 12 real frames of vtest.avi re-encoded at 10 fps: a clip that ends quickly."""
    path = tmp_path_factory.mktemp("clip") / "short.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (768, 576))
    for _, image in read_frames(FOOTAGE, range(12)):
        writer.write(image)
    writer.release()
    return path


@pytest.mark.parametrize(("text", "parsed", "live"), [
    ("0", 0, True), (" 2 ", 2, True), ("rtsp://10.0.0.5/stream1", "rtsp://10.0.0.5/stream1", True),
    ("examples/footage/vtest.avi", "examples/footage/vtest.avi", False),
])
def test_source_kinds(text, parsed, live):
    assert parse_source(text) == parsed and is_live(parse_source(text)) is live


def test_backoff_doubles_up_to_the_cap():
    assert [Backoff(0.5, 4.0).delay(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_file_is_sampled_at_the_analysis_rate_paced_and_timestamped():
    clock = FakeClock()
    cam = camera(str(FOOTAGE), clock, fps=5.0)
    frames = [cam.read() for _ in range(4)]
    expected = dict(read_frames(FOOTAGE, [0, 2, 4, 6]))  # a 10 fps clip at 5 fps: every 2nd frame
    for frame, index in zip(frames, [0, 2, 4, 6], strict=True):
        assert np.array_equal(frame.image, expected[index])
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert [round(f.ts - EPOCH - 100.0, 6) for f in frames] == [0.0, 0.2, 0.4, 0.6]  # wall time at capture
    assert clock.slept == [0.2, 0.2, 0.2]
    stats = cam.stats()
    assert stats["fps"] == 5.0 and stats["camera_ok"] and stats["reconnects"] == 0
    cam.close()


def test_fast_replay_ends_cleanly_with_clip_time_stamps(short_clip):
    clock = FakeClock()
    with camera(str(short_clip), clock, fps=10.0, realtime=False) as cam:
        frames = list(cam)
        assert len(frames) == 12 and clock.slept == []
        assert [round(f.ts - frames[0].ts, 6) for f in frames[:3]] == [0.0, 0.1, 0.2]
        assert cam.read() is None and cam.ended
        assert cam.stats()["camera_ok"] and cam.stats()["last_error"] is None


@pytest.mark.parametrize(("fps", "source_indices"), [(7.0, list(range(12))), (5.0, [0, 1, 3, 4, 6, 7, 8, 10, 11])])
def test_a_recording_runs_on_its_true_clock_when_the_container_declares_another(short_clip, fps, source_indices):
    """short.avi says 10 fps; told it was recorded at 7, frames are picked and stamped 1/7 s apart."""
    clock = FakeClock()
    cfg = CameraConfig(source=str(short_clip), fps=fps, source_fps=7.0)
    with Camera(cfg, clock=clock, wall=clock.wall, sleep=clock.sleep, realtime=False) as cam:
        frames = list(cam)
        assert cam.source_fps == 7.0
    expected = dict(read_frames(short_clip, source_indices))
    assert len(frames) == len(source_indices)
    for frame, index in zip(frames, source_indices, strict=True):
        assert np.array_equal(frame.image, expected[index])
        assert frame.ts - frames[0].ts == pytest.approx(index / 7.0)


def test_looped_replay_keeps_time_moving_forward(short_clip):
    clock = FakeClock()
    with camera(str(short_clip), clock, fps=10.0, realtime=False, loop=True) as cam:
        frames = [f for f in (cam.read() for _ in range(30)) if f is not None]
        assert len(frames) >= 26 and not cam.ended and cam.reconnects == 0
        assert all(b.ts > a.ts for a, b in zip(frames, frames[1:], strict=False))


@pytest.mark.parametrize("source", ["/nonexistent/camera.avi", "99", "rtsp://127.0.0.1:9/none"])
def test_dead_camera_is_retried_with_backoff_and_never_raises(source):
    clock = FakeClock()
    cam = camera(source, clock, fps=5.0, backoff=Backoff(0.5, 4.0))
    attempts = []
    real_open = cam._open
    cam._open = lambda src: attempts.append(clock.now) or real_open(src)
    for _ in range(80):  # 80 reads, each waiting at most one 0.2 s interval: ~16 s of fake time
        assert cam.read() is None
    gaps = [round(b - a, 1) for a, b in zip(attempts, attempts[1:], strict=False)]
    assert gaps[:5] == [0.5, 1.0, 2.0, 4.0, 4.0]  # doubling, capped at 4 s; reads in between just wait
    assert max(clock.slept) <= 0.2 + 1e-9
    stats = cam.stats()
    assert stats["camera_ok"] is False and stats["frames"] == 0 and "cannot open" in stats["last_error"]


class GatedStream:
    """A live stream of ``images`` that produces its next frame only once the camera asks for one.

    A real stream delivers frames at its own rate and the camera's grabber keeps only the newest; with a
    file behind it the grabber runs as fast as the machine lets it, so how many frames the reader saw
    before the stream died depended on how busy the machine was. Here the stream waits for the reader's
    request (the grabber's ``want``), so every frame is seen, however slow or fast the threads run.
    """

    def __init__(self, images: list[np.ndarray], wanted) -> None:
        self.images, self.wanted = images, wanted
        self.delivered = 0
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802 - cv2.VideoCapture's name
        return True

    def grab(self) -> bool:
        deadline = time.monotonic() + 10  # a reader that never asks again (the camera was closed)
        while not self.wanted():
            if self.released or time.monotonic() > deadline:
                return False
            time.sleep(0.0005)
        if self.delivered == len(self.images):
            return False  # the stream dies
        self.delivered += 1
        return True

    def retrieve(self) -> tuple[bool, np.ndarray]:
        return True, self.images[self.delivered - 1].copy()

    def get(self, _prop: int) -> float:
        return 0.0

    def release(self) -> None:
        self.released = True


def test_live_camera_recovers_and_counts_the_reconnect():
    """A 'live' URL whose first two opens fail, then a stream of 12 real frames that dies, then a new stream."""
    clock = FakeClock()
    images = [image for _, image in read_frames(FOOTAGE, range(12))]
    opens, streams = [], []
    cam = None

    def wanted() -> bool:
        grabber = cam._grabber
        return grabber is not None and grabber._want.is_set()

    def opener(source):
        opens.append(source)
        if len(opens) <= 2:
            return cv2.VideoCapture()
        streams.append(GatedStream(images, wanted))
        return streams[-1]

    cam = camera("rtsp://cam.local/stream", clock, fps=5.0, opener=opener, backoff=Backoff(0.2, 1.0))
    before, after = [], []  # frames from the first stream; from the stream the reconnect opened
    for _ in range(40):
        frame = cam.read()
        if frame is not None:
            (after if cam.reconnects else before).append(frame)
        if after:
            break
    cam.close()
    for stream in streams:
        stream.release()
    assert opens == ["rtsp://cam.local/stream"] * 4, "two failed opens, the first stream, the reconnect"
    assert len(before) == 12 and len(after) == 1 and cam.reconnects == 1
    assert [f.index for f in before + after] == list(range(13))
    assert all(np.array_equal(f.image, image) for f, image in zip(before, images, strict=True))
    assert all(f.image.shape == (576, 768, 3) for f in before + after)
    assert all(f.ts >= EPOCH for f in before + after)
