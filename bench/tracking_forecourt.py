"""Forecourt's pipeline as the product wires it, on replayed detections: its tracks, timings and zone stays.

Also the product's zones on another tracker's tracks, so that every tracker's stays come from the same Scene.
"""

import statistics
import time
from collections.abc import Iterable

import numpy as np
from tracking_data import Frames, Stay, Tracked
from tracking_tree import ROOT

from edge.config import ZoneConfig, load_station_config
from edge.events import Draft, ListSink
from edge.vision.detection import Detection, Frame
from edge.vision.pipeline import Pipeline
from edge.vision.tracker import Track

T0 = 1_800_000_000.0  # wall-clock time of every first frame: zone events carry epoch times


def station(zones: list[dict]):
    """examples/station.toml (the shipped defaults) with these person zones and no motion gate."""
    cfg = load_station_config(ROOT / "examples" / "station.toml")
    detector = cfg.detector.model_copy(update={"motion_gate": False})
    return cfg.model_copy(update={"detector": detector, "zones": [ZoneConfig(**z, classes=["person"]) for z in zones]})


class Replay:
    """The detector's place in the pipeline: the cached detections, one frame after another."""

    def __init__(self, frames: Frames) -> None:
        self._frames = iter(frames)

    def detect(self, image: object) -> list[Detection]:
        return [Detection(*b, "person") for b in next(self._frames)]


class Timed:
    """The pipeline's tracker, with the time each update took."""

    def __init__(self, tracker: object) -> None:
        self.tracker, self.spent = tracker, []

    def update(self, detections: list[Detection], now: float, **kwargs: object) -> list[Track]:
        start = time.perf_counter()
        out = self.tracker.update(detections, now, **kwargs)
        self.spent.append(time.perf_counter() - start)
        return out

    def __getattr__(self, name: str) -> object:
        return getattr(self.tracker, name)


def stays_of(drafts: Iterable[Draft]) -> list[Stay]:
    return [(d.body.zone, d.at - d.body.dwell_s - T0, d.at - T0) for d in drafts if d.kind == "zone"]


def forecourt(frames: Frames, fps: float, size: tuple[int, int], images: list[str], zones: list[dict]) -> dict:
    """Forecourt's pipeline at the shipped defaults on these detections: its tracks and its zone stays."""
    import cv2

    # Synthetic detections have no pictures: a grey one tells the frame size, and every look is the same.
    blank = np.full((size[1], size[0], 3), 128, np.uint8)
    pictures = (cv2.imread(p) for p in images) if images else (blank for _ in frames)
    stream = (Frame(image=img, ts=T0 + i / fps, index=i) for i, img in zip(range(len(frames)), pictures, strict=False))
    sink, seen = ListSink(), []
    pipe = Pipeline.from_config(station(zones), sink, frames=stream, detector=Replay(frames),
                                on_frame=lambda _f, tracks, _d: seen.append(tracks))
    pipe.tracker = timed = Timed(pipe.tracker)
    pipe.run()
    return {"tracks": [[(t.id, t.x1, t.y1, t.x2, t.y2) for t in ts] for ts in seen], "stays": stays_of(sink.drafts),
            "ms": 1000 * statistics.median(timed.spent)}


def scene_stays(tracked: Tracked, fps: float, zones: list[dict]) -> list[Stay]:
    """Stays the product's zones make of another tracker's output (the Scene the pipeline wires)."""
    scene = Pipeline.from_config(station(zones), ListSink(), frames=[], detector=Replay([])).scene
    first: dict[int, float] = {}
    drafts, now = [], T0
    for i, frame in enumerate(tracked):
        now = T0 + i / fps
        tracks = [Track(id=tid, x1=x1, y1=y1, x2=x2, y2=y2, score=1.0, label="person",
                        first_seen=first.setdefault(tid, now), seen_at=now) for tid, x1, y1, x2, y2 in frame]
        drafts += scene.update(tracks, now)
    return stays_of(drafts + scene.close(now))
