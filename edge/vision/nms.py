"""Greedy, class-aware non-maximum suppression and IoU (pure numpy)."""

import numpy as np


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy ``box`` with each row of ``boxes [N, 4]``; 0 where both are empty."""
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.divide(inter, union, out=np.zeros_like(inter, dtype=np.float64), where=union > 0)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU ``[len(a), len(b)]`` of two xyxy box arrays."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    return np.stack([iou_one_to_many(box, b) for box in a])


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float, max_out: int = 300) -> np.ndarray:
    """Indices kept by greedy NMS, best score first; boxes only suppress boxes of their own class.

    Class awareness uses the usual offset trick: each class is shifted to its own far-away region so one
    pass suffices and a person next to a car is never suppressed by it.
    """
    if not len(scores):
        return np.zeros(0, dtype=np.int64)
    span = float(np.max(boxes)) - float(np.min(boxes)) + 1.0
    shifted = boxes + (classes.astype(np.float64) * span)[:, None]
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while len(order) and len(keep) < max_out:
        top = order[0]
        keep.append(int(top))
        rest = order[1:]
        order = rest[iou_one_to_many(shifted[top], shifted[rest]) <= iou]
    return np.asarray(keep, dtype=np.int64)
