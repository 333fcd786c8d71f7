"""Zone dwell judged against the ground truth: true stays from foot points, matched to a tracker's stays."""

import numpy as np
from scipy.optimize import linear_sum_assignment
from tracking_data import Stay, Truth


def inside(point: tuple[float, float], polygon: list) -> bool:
    x, y = point
    hit, j = False, len(polygon) - 1
    for i, (xi, yi) in enumerate(polygon):
        xj, yj = polygon[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            hit = not hit
        j = i
    return hit


def true_stays(gt: Truth, fps: float, zones: list[dict], confirm_s: float) -> list[Stay]:
    """Each person's stays per zone by the ground truth's foot points, kept when >= ``confirm_s``."""
    paths: dict[int, list[tuple[float, tuple[float, float]]]] = {}
    for f in sorted(gt):
        for i, x1, _, x2, y2 in gt[f]:
            paths.setdefault(i, []).append(((f - 1) / fps, ((x1 + x2) / 2, y2)))
    out: list[Stay] = []
    for zone in zones:
        for path in paths.values():
            spans: list[list[float]] = []
            prev: tuple[float, bool] | None = None
            for t, p in path:
                now_in = inside(p, zone["polygon"])
                crossed = t if prev is None else (prev[0] + t) / 2
                if now_in and (prev is None or not prev[1]):
                    if spans and crossed - spans[-1][1] < confirm_s:  # out for less than a confirmation
                        spans[-1][1] = t
                    else:
                        spans.append([crossed, t])
                elif now_in:
                    spans[-1][1] = t
                elif prev is not None and prev[1]:
                    spans[-1][1] = crossed
                prev = (t, now_in)
            out += [(zone["id"], a, b) for a, b in spans if b - a >= confirm_s]
    return out


def temporal_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union if union > 0 else 0.0


def match_stays(truth: list[Stay], found: list[Stay], min_iou: float = 0.5) -> dict:
    """Records of the truth and found, and the dwell errors (s) of the pairs matched per zone on temporal IoU."""
    errors = []
    for zone in {s[0] for s in truth} & {s[0] for s in found}:
        a, b = [s[1:] for s in truth if s[0] == zone], [s[1:] for s in found if s[0] == zone]
        iou = np.array([[temporal_iou(x, y) for y in b] for x in a])
        for r, c in zip(*linear_sum_assignment(-iou), strict=True):
            if iou[r, c] >= min_iou:
                errors.append(abs((b[c][1] - b[c][0]) - (a[r][1] - a[r][0])))
    return {"truth": len(truth), "found": len(found), "errors": errors}


def dwell_summary(matches: list[dict]) -> dict[str, float]:
    """Record F1 over all the matches given together; error percentiles and share within 1 s of matched pairs."""
    truth, found = sum(m["truth"] for m in matches), sum(m["found"] for m in matches)
    errors = [e for m in matches for e in m["errors"]]
    nan = float("nan")
    return {"truth": truth, "found": found, "F1": 2 * len(errors) / (truth + found) if truth + found else nan,
            "p50": float(np.percentile(errors, 50)) if errors else nan,
            "p90": float(np.percentile(errors, 90)) if errors else nan,
            "within": 100 * float(np.mean(np.array(errors) <= 1.0)) if errors else nan}
