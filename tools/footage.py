"""Frames of a recording by index, for the model tools, the tests and the benchmarks (never the edge)."""

from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np


def read_frames(path: Path, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
    """Decode the given frame indices (ascending) of a video, sequentially: seeking in AVI is unreliable."""
    wanted = set(indices)
    cap = cv2.VideoCapture(str(path))
    try:
        index = 0
        while wanted and index <= max(wanted):
            ok, frame = cap.read()
            if not ok:
                break
            if index in wanted:
                wanted.discard(index)
                yield index, frame
            index += 1
    finally:
        cap.release()
