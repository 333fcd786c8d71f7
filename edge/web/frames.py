"""The newest camera frame for the station page, drawn only while the page is watched.

The vision thread offers every frame (``Pipeline(on_frame=...)``); unless someone asked for a picture in
the last :data:`WATCH_S` seconds the offer returns at once, so a station nobody watches spends nothing
here. Overlays (bays, zones, tracks: edge/vision/annotate.py) are drawn in the vision thread, where the
scene's state is consistent; JPEG encoding happens in the HTTP thread that asked. Pixels go only to the
page: never to the outbox, the broker or a file.
"""

import threading
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from edge.vision.annotate import draw

WATCH_S = 10.0
JPEG_QUALITY = 80


class LatestFrame:
    def __init__(self, scene: Callable[[], Any], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._scene = scene  # the running pipeline's Scene (zones and bays), or None
        self._clock = clock
        self._lock = threading.Lock()
        self._wanted_at = float("-inf")
        self._raw: np.ndarray | None = None
        self._drawn: np.ndarray | None = None
        self.offered = 0  # frames offered while watched (for tests and the page)

    def offer(self, frame: Any, tracks: list, _drafts: list) -> None:
        if self._clock() - self._wanted_at > WATCH_S:
            return
        scene = self._scene()
        zones, bays = (scene.zones, scene.bays) if scene is not None else ((), ())
        drawn = draw(frame.image, tracks, frame.ts, zones=zones, bays=bays)
        with self._lock:
            self._raw, self._drawn = frame.image.copy(), drawn
            self.offered += 1

    def size(self) -> tuple[int, int] | None:
        """(width, height) of the camera's picture, once one was seen."""
        with self._lock:
            return None if self._raw is None else (self._raw.shape[1], self._raw.shape[0])

    def jpeg(self, *, overlay: bool) -> bytes | None:
        """The latest picture as JPEG (None before the first); asking keeps the pictures coming."""
        self._wanted_at = self._clock()
        with self._lock:
            image = self._drawn if overlay else self._raw
        if image is None:
            return None
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        return encoded.tobytes() if ok else None
