"""Matching tracks to detections by overlap: the IoU matrix, the time-scaled gate, one assignment.

Pure numpy on boxes (x1, y1, x2, y2). The tracker calls :func:`match_by_overlap` once per stage;
re-identification by motion and appearance, for tracks lost longer, is :mod:`edge.vision.reid`.
"""

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from edge.vision.detection import VEHICLES

Box = tuple[float, float, float, float]

# ``min_iou`` holds at this frame interval or shorter; slower streams get a proportionally looser gate.
GATE_DT = 1 / 15
GATE_FLOOR = 0.1  # never looser than ByteTrack's own gate


def family(label: str) -> str:
    """Classes that may share a track: detectors flip car/truck on one vehicle, never person/car."""
    return "vehicle" if label in VEHICLES else label


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a`` (N, 4) and ``b`` (M, 4) in x1, y1, x2, y2."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def overlap_gate(min_iou: float, dt: float) -> float:
    """The least IoU that still matches after ``dt`` seconds between frames.

    At 5 fps people move a third of a body width between frames and their boxes change shape more than
    the constant-velocity prediction follows: a fixed IoU gate then breaks tracks (vtest.avi at 5 fps:
    13 likely switches at 0.3, 5 with the looser gate). Never below 0.1, like ByteTrack's.
    """
    return min_iou if dt <= GATE_DT else max(GATE_FLOOR, min_iou * GATE_DT / dt)


def match_by_overlap(
    track_boxes: Sequence[Sequence[float]],
    track_families: Sequence[str],
    det_boxes: Sequence[Sequence[float]],
    det_families: Sequence[str],
    det_scores: Sequence[float] | None,
    min_iou: float,
) -> list[tuple[int, int]]:
    """Index pairs (track, detection) of one optimal assignment with IoU >= ``min_iou``.

    Only the same family may match. With ``det_scores`` the scores are fused into the similarity as
    ByteTrack does (IoU x score), so a sharp box wins a tie between two that overlap alike.
    """
    if len(track_boxes) == 0 or len(det_boxes) == 0:
        return []
    iou = iou_matrix(np.asarray(track_boxes, float), np.asarray(det_boxes, float))
    same = np.asarray(track_families, object)[:, None] == np.asarray(det_families, object)[None, :]
    iou = np.where(same, iou, 0.0)
    sim = iou * np.asarray(det_scores, float)[None, :] if det_scores is not None else iou
    rows, cols = linear_sum_assignment(-sim)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= min_iou]


def crowded(boxes: Sequence[Sequence[float]], max_iou: float = 0.2) -> list[bool]:
    """For each box, whether another one overlaps it by more than ``max_iou`` (its pixels are shared)."""
    if len(boxes) < 2:
        return [False] * len(boxes)
    arr = np.asarray(boxes, float)
    iou = iou_matrix(arr, arr)
    np.fill_diagonal(iou, 0.0)
    return [bool(v) for v in iou.max(axis=1) > max_iou]
