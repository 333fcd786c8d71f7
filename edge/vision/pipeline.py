"""Frames -> detector -> tracker -> zones and pump bays -> event drafts to a sink.

:class:`Scene` is the pure part (tracks and a time in, drafts out) shared by the live service and
``forecourt analyze``. :class:`Pipeline` adds the adapters and a thread: it pulls frames, runs the
detector unless the motion gate says nothing moved, and passes drafts to an :class:`EventSink`. Drafts
carry protocol fields only - times, ids, durations - never pixels.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from statistics import median
from typing import Any, Protocol

import numpy as np

from edge.events import Draft, EventSink
from edge.vision.detection import Detection, Frame
from edge.vision.reid import with_looks
from edge.vision.tracker import Track, Tracker
from edge.vision.visits import PumpBay, VisitRecord
from edge.vision.zones import Zone

log = logging.getLogger("forecourt.vision")


class DetectorLike(Protocol):
    def detect(self, image: Any) -> list[Detection]: ...


class GateLike(Protocol):
    def check(self, frame: Frame) -> bool: ...


class Scene:
    """``update(tracks, now) -> list[Draft]``: zone dwells (``zone``) and pump-bay visits (``visit``)."""

    def __init__(self, zones: Sequence[Zone] = (), bays: Sequence[PumpBay] = ()) -> None:
        self.zones, self.bays = list(zones), list(bays)

    @classmethod
    def from_config(cls, zones: Iterable[Any], *, lost_s: float = 3.0) -> "Scene":
        """From ``StationConfig.zones``: every zone records dwells; pump bays also time visits. ``lost_s``: how
        long an unseen occupant still counts, the tracker's ``reid_s`` (a re-identified track never splits a stay)."""
        zones = list(zones)
        return cls(
            [Zone(z.id, z.polygon, classes=z.classes, confirm_s=z.confirm_s, grace_s=getattr(z, "grace_s", None),
                  lost_s=lost_s) for z in zones],
            [PumpBay.from_config(z) for z in zones if z.kind == "pump_bay"],
        )

    def retune(self, zones: Iterable[Any]) -> None:
        """New thresholds from ``StationConfig.zones`` (HQ's settings) for the zones and bays already here."""
        by_id = {z.id: z for z in zones}
        for zone in self.zones:
            if zone.id in by_id:
                zone.confirm_s = by_id[zone.id].confirm_s
        for bay in self.bays:
            if bay.id in by_id:
                bay.retune(by_id[bay.id])

    @property
    def passes(self) -> int:
        return sum(b.passes for b in self.bays)

    def update(
        self, tracks: Sequence[Track], now: float, *, uniformed: Mapping[str, Collection[int]] | None = None
    ) -> list[Draft]:
        drafts = [ev.to_draft() for z in self.zones for ev in z.update(tracks, now) if ev.kind == "exit"]
        for bay in self.bays:
            drafts += _visit_drafts(bay.update(tracks, now, uniformed=(uniformed or {}).get(bay.id, ())))
        return drafts

    def close(self, now: float) -> list[Draft]:
        """End of stream: open dwells and visits end at their last sighting."""
        drafts = [ev.to_draft() for z in self.zones for ev in z.close(now)]
        for bay in self.bays:
            drafts += _visit_drafts(bay.close(now))
        return drafts


def _picture(image: object) -> bool:
    return isinstance(image, np.ndarray) and image.ndim == 3


def _visit_drafts(records: list[VisitRecord]) -> list[Draft]:
    return [r.to_draft() for r in records]


def _uniforms(zones: Iterable[Any]) -> dict[str, tuple[tuple[int, int, int], float]]:
    """Pump bay id -> (uniform colour as BGR, tolerance), for the bays that have one."""
    return {z.id: (hex_to_bgr(z.uniform_colour), z.uniform_tolerance) for z in zones if z.kind == "pump_bay" and z.uniform_colour}


def hex_to_bgr(text: str) -> tuple[int, int, int]:
    return int(text[5:7], 16), int(text[3:5], 16), int(text[1:3], 16)


def torso_colour(image: np.ndarray, track: Track) -> tuple[float, float, float] | None:
    """Mean BGR of the upper body (20-50% down the box, middle half across), where a uniform shows."""
    h, w = image.shape[:2]
    bw, bh = track.x2 - track.x1, track.y2 - track.y1
    x1, x2 = int(max(0, track.x1 + bw / 4)), int(min(w, track.x2 - bw / 4))
    y1, y2 = int(max(0, track.y1 + bh * 0.2)), int(min(h, track.y1 + bh * 0.5))
    if x2 <= x1 or y2 <= y1:
        return None
    b, g, r = image[y1:y2, x1:x2].reshape(-1, 3).mean(axis=0)
    return float(b), float(g), float(r)


def wears(image: np.ndarray, track: Track, bgr: tuple[int, int, int], tolerance: float) -> bool:
    colour = torso_colour(image, track)
    return colour is not None and float(np.linalg.norm(np.subtract(colour, bgr))) <= tolerance


class Pipeline:
    """Live vision: ``start()`` runs it in a thread, ``stop()`` ends it (open visits are flushed).

    ``on_frame(frame, tracks, drafts)`` is called after each frame (annotation, progress bars).
    """

    def __init__(
        self,
        frames: Iterable[Frame],
        detector: DetectorLike,
        tracker: Tracker,
        scene: Scene,
        sink: EventSink,
        *,
        gate: GateLike | None = None,
        uniforms: Mapping[str, tuple[tuple[int, int, int], float]] | None = None,
        on_frame: Callable[[Frame, list[Track], list[Draft]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.frames, self.detector, self.tracker, self.scene, self.sink = frames, detector, tracker, scene, sink
        self.gate, self.uniforms, self.on_frame, self._clock = gate, dict(uniforms or {}), on_frame, clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_detections: list[Detection] = []
        self._last_ts: float | None = None
        self._times: deque[float] = deque(maxlen=64)  # processing clock, for achieved fps
        self._detect_s: deque[float] = deque(maxlen=64)
        self.frames_done = self.frames_skipped = self.events = self.frame_errors = 0
        self.tracks: list[Track] = []
        self.error: str | None = None

    @classmethod
    def from_config(
        cls, cfg: Any, sink: EventSink, *, frames: Iterable[Frame] | None = None,
        detector: DetectorLike | None = None, gate: GateLike | None = None, **kwargs: Any,
    ) -> "Pipeline":
        """Wire a ``StationConfig``: its camera (unless ``frames``), detector, motion gate, tracker, zones."""
        if frames is None:
            from edge.vision.camera import Camera

            if cfg.camera is None:
                raise ValueError("the station config has no [camera]")
            frames = Camera(cfg.camera, loop=cfg.camera.loop)
        if detector is None:
            from edge.vision.detector import Detector

            detector = Detector(cfg.detector)
        if gate is None and cfg.detector.motion_gate:
            from edge.vision.motion import MotionGate

            gate = MotionGate.from_config(cfg.detector)
        scene = Scene.from_config(cfg.zones, lost_s=max(cfg.tracker.reid_s, cfg.tracker.lost_s))
        return cls(frames, detector, Tracker.from_config(cfg.tracker), scene, sink, gate=gate,
                   uniforms=_uniforms(cfg.zones), **kwargs)

    def retune(self, cfg: Any) -> None:
        """HQ's zone and bay thresholds from a ``StationConfig``, live, from the next frame on."""
        self.scene.retune(cfg.zones)
        self.uniforms = _uniforms(cfg.zones)  # one assignment: a frame sees the old table or the new one

    def step(self, frame: Frame) -> list[Draft]:
        """One frame through the chain; returns (and emits) the drafts it completed."""
        if self.gate is None or self.gate.check(frame):
            start = self._clock()
            detections = self.detector.detect(frame.image)
            self._detect_s.append(self._clock() - start)
            # Each box's colours, for re-identification: ~25 us a box (edge.vision.reid).
            self._last_detections = with_looks(frame.image, detections) if _picture(frame.image) else detections
        else:
            # Nothing moved: the last detections still describe the picture. An empty list would
            # age every track out while a car stands at the pump.
            self.frames_skipped += 1
        size = (frame.image.shape[1], frame.image.shape[0]) if _picture(frame.image) else None  # type: ignore[attr-defined]
        self.tracks = self.tracker.update(self._last_detections, frame.ts, frame_size=size)
        uniformed = {
            bay: [t.id for t in self.tracks if t.label == "person" and wears(frame.image, t, bgr, tol)]  # type: ignore[arg-type]
            for bay, (bgr, tol) in self.uniforms.items()
        }
        drafts = self.scene.update(self.tracks, frame.ts, uniformed=uniformed)
        self._emit(drafts)
        self._last_ts = frame.ts
        self.frames_done += 1
        self._times.append(self._clock())
        if self.on_frame is not None:
            self.on_frame(frame, self.tracks, drafts)
        return drafts

    def close(self) -> list[Draft]:
        """Flush open dwells and visits (end of a file, or shutting down)."""
        drafts = self.scene.close(self._last_ts) if self._last_ts is not None else []
        self._emit(drafts)
        return drafts

    def run(self, *, keep_going: bool = False) -> None:
        """Process frames until they end or :meth:`stop` is called, then flush.

        With ``keep_going`` (the live thread) a frame that fails is logged, counted in ``stats()`` and
        skipped: one corrupt frame must not end vision for the day. Otherwise the error propagates.
        """
        try:
            for frame in self._frames():
                try:
                    self.step(frame)
                except Exception as err:
                    self.error = f"{type(err).__name__}: {err}"
                    self.frame_errors += 1
                    if not keep_going:
                        raise
                    if self.frame_errors == 1 or self.frame_errors % 100 == 0:
                        log.exception("vision: frame %d failed (%d so far)", frame.index, self.frame_errors)
        except Exception as err:  # the frame source itself failed: say so in stats() before ending
            self.error = self.error or f"{type(err).__name__}: {err}"
            raise
        finally:
            self.close()

    def _frames(self) -> Iterator[Frame]:
        """Frames until they end or stop() is called. A camera's ``read()`` returns None within one
        interval while it is down, so stop() is honoured even when no frame ever comes."""
        read = getattr(self.frames, "read", None)
        if not callable(read):
            for frame in self.frames:
                if self._stop.is_set():
                    return
                yield frame
            return
        while not self._stop.is_set():
            frame = read()
            if frame is not None:
                yield frame
            elif getattr(self.frames, "ended", False):
                return

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, kwargs={"keep_going": True}, name="vision", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def stats(self) -> dict[str, Any]:
        """For the health message: achieved analysis fps, detector latency, skipped frames, events."""
        times = self._times
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        out: dict[str, Any] = {
            "fps": round((len(times) - 1) / span, 2) if span > 0 else 0.0,
            "frames": self.frames_done,
            "frames_skipped": self.frames_skipped,
            "detect_ms_p50": round(1000 * median(self._detect_s), 1) if self._detect_s else None,
            "tracks": len(self.tracks),
            "events": self.events,
            "pass_throughs": self.scene.passes,
            "frame_errors": self.frame_errors,
            "error": self.error,
        }
        camera_stats = getattr(self.frames, "stats", None)
        if callable(camera_stats):
            out["camera"] = camera_stats()
        return out

    def _emit(self, drafts: list[Draft]) -> None:
        for draft in drafts:
            self.sink.emit(draft)
        self.events += len(drafts)
