"""Draw zones, tracks and pump-bay timers on frames so a person can check the numbers by eye.

Only ``forecourt analyze --annotate`` uses this; annotated pixels never leave the machine.
"""

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from edge.vision.tracker import Track
from edge.vision.visits import PumpBay
from edge.vision.zones import Zone
from forecourt.errors import ForecourtError

ZONE, BAY, SERVICE, TEXT = (0, 215, 255), (255, 200, 0), (255, 120, 0), (255, 255, 255)


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A stable, distinct colour per id (golden-ratio hue steps)."""
    hue = int((track_id * 0.618033988749895 % 1.0) * 179)
    bgr = cv2.cvtColor(np.uint8([[[hue, 200, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


def _poly(image: np.ndarray, points: Sequence[tuple[float, float]], colour: tuple[int, int, int], width: int) -> None:
    pts = np.array(points, np.int32).reshape(-1, 1, 2)
    cv2.polylines(image, [pts], True, colour, width, cv2.LINE_AA)


def _text(image: np.ndarray, text: str, org: tuple[int, int], colour: tuple[int, int, int] = TEXT) -> None:
    (w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
    org = (max(0, min(org[0], image.shape[1] - w - 2)), org[1])  # keep labels of edge zones on the picture
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)


def draw(
    image: np.ndarray, tracks: Sequence[Track], now: float, *, zones: Sequence[Zone] = (),
    bays: Sequence[PumpBay] = (), lost: Sequence[Track] = (),
) -> np.ndarray:
    """A copy of ``image`` with zones, tracks (lost ones dashed grey) and each bay's running timers."""
    out = image.copy()
    for zone in zones:
        _poly(out, zone.polygon, ZONE, 1)
        x, y = (int(v) for v in zone.polygon[0])
        _text(out, f"{zone.id} ({len(zone.occupants())})", (x + 3, y + 14), ZONE)
    lines = []
    for bay in bays:
        _poly(out, bay.bay.polygon, BAY, 2)
        if bay.service.polygon != bay.bay.polygon:
            _poly(out, bay.service.polygon, SERVICE, 1)
        for tid, arrived, stopped, greeted in bay.active():
            parts = [f"{bay.id} #{tid}: in {now - arrived:.1f}s"]
            if stopped is not None:
                parts.append(f"stopped {now - stopped:.1f}s")
                parts.append(f"greeted after {greeted - stopped:.1f}s" if greeted is not None else "not greeted yet")
            lines.append(", ".join(parts))
    # Timers go in one panel top-left: neighbouring bays' labels would overlap next to their polygons.
    if lines:
        cv2.rectangle(out, (0, 0), (max(len(line) for line in lines) * 8 + 10, 18 * len(lines) + 6), (0, 0, 0), -1)
    for i, line in enumerate(lines):
        _text(out, line, (5, 17 + 18 * i), BAY)
    for t in lost:
        cv2.rectangle(out, (int(t.x1), int(t.y1)), (int(t.x2), int(t.y2)), (128, 128, 128), 1)
    for t in tracks:
        colour = track_colour(t.id)
        cv2.rectangle(out, (int(t.x1), int(t.y1)), (int(t.x2), int(t.y2)), colour, 2)
        bx, by = (int(v) for v in t.bottom_centre)
        cv2.circle(out, (bx, by), 3, colour, -1)
        _text(out, f"#{t.id} {t.label}", (int(t.x1), max(12, int(t.y1) - 4)), colour)
    return out


class VideoWriter:
    """MP4 (mp4v) writer sized by the first frame; use as a context manager."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path, self.fps = Path(path), fps
        self._writer: cv2.VideoWriter | None = None
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        if self._writer is None:
            h, w = image.shape[:2]
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self._writer.isOpened():
                raise ForecourtError(f"cannot write video {self.path} (is the folder there and writable?)")
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
