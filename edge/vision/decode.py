"""Raw model outputs -> candidate boxes in model pixels (pure numpy, no onnxruntime).

Both decoders pick the best *wanted* class per anchor and drop anchors under the score threshold
before any box arithmetic, so a frame with a few objects costs a few hundred softmaxes, not 3,500.
They return ``Candidates``; NMS and the mapping back to image pixels happen afterwards.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NANODET_STRIDES = (8, 16, 32)


@dataclass(frozen=True, slots=True)
class Candidates:
    """Boxes ``[K, 4]`` xyxy in model pixels, their ``scores [K]`` and model class ids ``classes [K]``."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    @staticmethod
    def empty() -> "Candidates":
        return Candidates(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.scores)


def best_wanted(scores: np.ndarray, wanted: np.ndarray, threshold: float) -> tuple[np.ndarray, ...]:
    """Per anchor, the best class among ``wanted`` ids; returns (anchor idx, score, class id) above threshold."""
    sub = scores[:, wanted]
    col = sub.argmax(axis=1)
    best = sub[np.arange(len(sub)), col]
    keep = np.flatnonzero(best >= threshold)
    return keep, best[keep].astype(np.float32), wanted[col[keep]].astype(np.int64)


def gfl_distances(logits: np.ndarray, bins: int) -> np.ndarray:
    """``[K, 4*bins]`` distribution logits -> ``[K, 4]`` expected distances in cells (softmax . [0..bins-1])."""
    dist = logits.reshape(len(logits), 4, bins).astype(np.float32)
    dist = np.exp(dist - dist.max(axis=2, keepdims=True))
    dist /= dist.sum(axis=2, keepdims=True)
    return dist @ np.arange(bins, dtype=np.float32)


def pair_nanodet_outputs(
    outputs: Sequence[np.ndarray], height: int, width: int
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Match the six NanoDet outputs to (stride, scores [N, C], box logits [N, 4*bins]) by anchor count.

    Output order differs between conversions (TF.js names them Identity..Identity_5 by graph order), so
    the anchor count N = (H/stride)*(W/stride) is the only reliable key; scores are the wider tensor.
    """
    by_n: dict[int, list[np.ndarray]] = {}
    for out in outputs:
        arr = out[0] if out.ndim == 3 else out
        by_n.setdefault(arr.shape[0], []).append(arr)
    levels = []
    for stride in NANODET_STRIDES:
        n = (height // stride) * (width // stride)
        pair = by_n.get(n, [])
        if len(pair) != 2:
            raise ValueError(f"no score/box output pair with {n} anchors for stride {stride} at {width}x{height}")
        scores, boxes = sorted(pair, key=lambda a: a.shape[1], reverse=True)
        if boxes.shape[1] % 4:
            raise ValueError(f"box output width {boxes.shape[1]} is not 4 sides x bins")
        levels.append((stride, scores, boxes))
    return levels


def decode_nanodet(
    outputs: Sequence[np.ndarray], height: int, width: int, wanted: np.ndarray, threshold: float
) -> Candidates:
    """NanoDet (GFL head) outputs for an ``height`` x ``width`` input -> candidates.

    Scores are already sigmoid-activated; each side's distance is the expectation of its softmaxed bins
    times the stride, measured from the cell centre ((col + 0.5) * stride, (row + 0.5) * stride).
    """
    parts = []
    for stride, scores, logits in pair_nanodet_outputs(outputs, height, width):
        keep, best, cls = best_wanted(scores, wanted, threshold)
        if not len(keep):
            continue
        cols = width // stride
        cx = (keep % cols + 0.5) * stride
        cy = (keep // cols + 0.5) * stride
        d = gfl_distances(logits[keep], logits.shape[1] // 4) * stride  # left, top, right, bottom
        boxes = np.stack([cx - d[:, 0], cy - d[:, 1], cx + d[:, 2], cy + d[:, 3]], axis=1)
        parts.append(Candidates(boxes.astype(np.float32), best, cls))
    return concat(parts)


def decode_yolo(output: np.ndarray, wanted: np.ndarray, threshold: float) -> Candidates:
    """Ultralytics YOLOv8/YOLO11 detect export ``[1, 4+C, N]`` (cx, cy, w, h, class scores) -> candidates.

    The export's scores are already sigmoid-activated and there is no objectness column (unlike v5).
    """
    arr = output[0] if output.ndim == 3 else output
    if arr.shape[0] < 5:
        raise ValueError(f"YOLO output must be [1, 4+classes, N], got {list(output.shape)}")
    rows = arr.T  # [N, 4+C]
    keep, best, cls = best_wanted(rows[:, 4:], wanted, threshold)
    cx, cy, w, h = (rows[keep, i] for i in range(4))
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    return Candidates(boxes, best, cls)


def concat(parts: Sequence[Candidates]) -> Candidates:
    if not parts:
        return Candidates.empty()
    return Candidates(
        np.concatenate([p.boxes for p in parts]),
        np.concatenate([p.scores for p in parts]),
        np.concatenate([p.classes for p in parts]),
    )
