"""Camera sources through OpenCV: a video file, an rtsp:// (or http://) URL, or a V4L2 device index.

``Camera(cfg).read() -> Frame | None`` hands out one frame per 1/fps seconds, timestamped at capture with
wall-clock epoch seconds. A missing or dead camera never raises: ``read()`` returns None, the source is
reopened with exponential backoff (up to ``retry_max_s``) and ``stats()`` says so for the health message.

* Live sources are read by a small grabber thread that keeps only the newest frame, because OpenCV's
  FFmpeg backend queues frames and a 5 fps reader of a 25 fps stream would fall further behind each second.
* Files are sampled at the configured rate in the clip's own time (a 10 fps clip at 5 fps -> every 2nd
  frame). ``realtime=False`` replays them as fast as the caller reads (tests, benchmarks); timestamps then
  follow the clip's timeline from the start wall time so durations stay true.

Clock, wall clock, sleep and the OpenCV opener are injectable so tests never really wait.
"""

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from edge.config import CameraConfig
from edge.vision.detection import Frame

Opener = Callable[[int | str], Any]  # returns an object with cv2.VideoCapture's isOpened/grab/retrieve/read/get/release


def parse_source(source: str) -> int | str:
    """'0' -> V4L2 index 0; anything else is a path or URL, passed to OpenCV as is."""
    text = source.strip()
    return int(text) if text.isdigit() else text


def is_live(source: int | str) -> bool:
    return isinstance(source, int) or "://" in source


def open_capture(source: int | str) -> Any:
    return cv2.VideoCapture(source)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before reopen attempt ``n`` (0-based): initial, 2x, 4x, ... capped at ``max_s``."""

    initial_s: float = 0.5
    max_s: float = 60.0

    def delay(self, attempt: int) -> float:
        return min(self.max_s, self.initial_s * 2 ** min(attempt, 30))


class Grabber:
    """Reads a live capture continuously; decodes a full image only when the reader asks for one."""

    def __init__(self, cap: Any, wall: Callable[[], float]) -> None:
        self._cap, self._wall = cap, wall
        self._want = threading.Event()
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._latest: tuple[np.ndarray, float] | None = None
        self.failed = False
        self._thread = threading.Thread(target=self._run, name="camera-grabber", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if not self._cap.grab():
                    self.failed = True
                    self._ready.set()
                    return
                ts = self._wall()
                if self._want.is_set():
                    ok, image = self._cap.retrieve()
                    self._latest = (image, ts) if ok else None
                    self._want.clear()
                    self._ready.set()
        finally:
            # Only this thread may release: releasing while it sits in grab() can crash OpenCV.
            self._cap.release()

    def take(self, timeout: float) -> tuple[np.ndarray, float] | None:
        """The next frame grabbed after this call, or None if the stream failed or stayed silent."""
        self._ready.clear()
        self._want.set()
        if not self._ready.wait(timeout) or self.failed:
            return None
        latest, self._latest = self._latest, None
        return latest

    def stop(self) -> None:
        """Ask the thread to finish; a grab stuck on a dead network stream ends at FFmpeg's own timeout."""
        self._stop.set()
        self._thread.join(timeout=0.5)


class Camera:
    """Paced, self-healing frame source; iterate it or call ``read()``."""

    def __init__(
        self, cfg: CameraConfig, *, realtime: bool = True, loop: bool = False, opener: Opener = open_capture,
        clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep, backoff: Backoff | None = None,
    ) -> None:
        self.cfg = cfg
        self.source = parse_source(cfg.source)
        self.live = is_live(self.source)
        self.realtime, self.loop = realtime, loop
        self._open, self._clock, self._wall, self._sleep = opener, clock, wall, sleep
        self.backoff = backoff or Backoff(max_s=cfg.retry_max_s)
        self.interval = 1.0 / cfg.fps
        self._cap: Any = None
        self._grabber: Grabber | None = None
        self._attempts = 0
        self._next_try = clock()
        self._next_due = clock()
        self._index = 0  # frames handed out
        self._pos = 0.0  # file: next source frame to hand out (fractional, in source frames)
        self._file_frame = 0  # file: source frames consumed so far
        self._step = 1.0
        self._t0 = 0.0
        self.ended = False
        self._rewinding = False
        self._last_ts = 0.0
        self._src_fps = cfg.fps
        self.reconnects = 0
        self.opened_once = False
        self.last_error: str | None = None
        self._times: deque[float] = deque(maxlen=64)

    # -- opening -------------------------------------------------------------------------------
    def _try_open(self) -> bool:
        cap = self._open(self.source)
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            self.last_error = f"cannot open camera source {self.cfg.source!r}"
            self._next_try = self._clock() + self.backoff.delay(self._attempts)
            self._attempts += 1
            return False
        if self.opened_once and not self._rewinding:
            self.reconnects += 1
        self.opened_once, self._attempts, self.last_error = True, 0, None
        self._cap = cap
        if self.live:
            self._grabber = Grabber(cap, self._wall)
        else:
            src_fps = self.cfg.source_fps or cap.get(cv2.CAP_PROP_FPS) or 0.0
            # Hand out every (src_fps / fps)-th frame so the clip's time runs at its real speed.
            self._step = max(1.0, src_fps / self.cfg.fps) if src_fps > 0 else 1.0
            self._src_fps = src_fps if src_fps > 0 else self.cfg.fps
            # A looped replay continues the clip's timeline instead of jumping back in time.
            self._t0 = self._last_ts + 1.0 / self._src_fps if self._rewinding else self._wall()
            self._pos, self._file_frame = 0.0, 0
        self._rewinding = False
        return True

    def _drop(self, error: str | None) -> None:
        self.last_error = error
        if self._grabber is not None:
            self._grabber.stop()  # the grabber thread releases the capture it reads
            self._grabber = None
        elif self._cap is not None:
            self._cap.release()
        self._cap = None
        self._next_try = self._clock()

    # -- reading -------------------------------------------------------------------------------
    def _read_file(self) -> tuple[np.ndarray, float] | None:
        target = int(round(self._pos))
        while self._file_frame < target:  # skip frames between samples without decoding them fully
            if not self._cap.grab():
                return None
            self._file_frame += 1
        ok, image = self._cap.read()
        if not ok:
            return None
        self._file_frame += 1
        self._pos += self._step
        ts = self._wall() if self.realtime else self._t0 + (self._file_frame - 1) / self._src_fps
        return image, ts

    def _pace(self) -> None:
        if not self.realtime and not self.live:
            return
        wait = self._next_due - self._clock()
        if wait > 0:
            self._sleep(wait)
        # Never "catch up" with a burst after a stall: the next frame is one interval from now at most.
        self._next_due = max(self._next_due + self.interval, self._clock())

    def read(self) -> Frame | None:
        """The next paced frame, or None (camera down: waited at most one interval; or the file ended)."""
        if self.ended:
            return None
        if self._cap is None:
            now = self._clock()
            if now < self._next_try:
                self._sleep(min(self.interval, self._next_try - now))
                return None
            if not self._try_open():
                return None
        self._pace()
        got = self._grabber.take(timeout=max(2.0, 2 * self.interval)) if self._grabber else self._read_file()
        if got is None:
            if self.live:
                self._drop(f"camera source {self.cfg.source!r} stopped delivering frames")
            else:  # end of the file: rewind for a looped replay, else we are done
                self._drop(None)
                self._rewinding = self.loop
                self.ended = not self.loop
            return None
        image, ts = got
        self._last_ts = ts
        self._times.append(self._clock())
        frame = Frame(image=image, ts=ts, index=self._index)
        self._index += 1
        return frame

    def __iter__(self) -> Iterator[Frame]:
        """Frames until a file ends (forever for live sources); None gaps while down are skipped."""
        while not self.ended:
            frame = self.read()
            if frame is not None:
                yield frame

    # -- health --------------------------------------------------------------------------------
    @property
    def source_fps(self) -> float:
        """The rate a file's frames are timed by: ``source_fps`` if set, else the container's (once opened)."""
        return self._src_fps

    def stats(self) -> dict[str, Any]:
        times = self._times
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        return {
            "fps": round((len(times) - 1) / span, 2) if span > 0 else 0.0,
            "fps_window_frames": len(times),
            "camera_ok": self._cap is not None or (self.ended and self.opened_once),
            "reconnects": self.reconnects,
            "frames": self._index,
            "last_error": self.last_error,
        }

    def close(self) -> None:
        self._drop(None)
        self.ended = True

    def __enter__(self) -> "Camera":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
