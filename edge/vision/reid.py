"""Re-identification: a lost track's id goes to a new box where it could have walked, that looks like it.

ByteTrack keeps a lost track findable only by overlap with its predicted box, which after a second or
two is somewhere else: the person comes back from behind a pump or another person under a new id (issue
19: 14 of 22 id switches on real footage followed a gap of 7 frames or more). Here a confident box that
no track claimed is compared with every track lost for up to ``reid_s`` seconds:

* **where**: the box's centre lies within ``size x (0.5 + reid_speed x gap)`` of the path from where the
  track was last seen to where its speed would have taken it; anywhere along that path, so stopping
  behind the obstacle is as plausible as walking on. ``size`` is the square root of the box's area and
  ``reid_speed`` how fast, in sizes per second, a course may change (people turn more than cars).
* **how big**: the box's size is within 1.5x of the lost one's.
* **not gone**: a track last seen touching the picture's border walked out of it; it is not re-found.
* **how it looks**: the mean colours of its upper and lower body (:func:`look_of`, what the uniform hint
  reads) differ by at most ``max_look``, when both are known. Six numbers cost 25 us a box on one desktop
  core (0.18 ms for a frame of 7 people, sampled at most 12 x 12 pixels a region); an embedding network
  would cost a Pi tens of milliseconds per person, out of 200 ms a frame at 5 fps.

Among the plausible pairs one optimal assignment is made on distance and look together.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from math import hypot, inf, sqrt

import numpy as np
from scipy.optimize import linear_sum_assignment

from edge.vision.detection import Detection, Look

REID_BASE = 0.5  # sizes around the path even after no time: box jitter, a partly hidden body
MAX_SCALE = 1.5
_SAMPLES = 12  # pixels per side sampled in each region: the mean of a region, not its texture
_NO_LOOK = 0.5  # added to the cost when either look is unknown (between a perfect and a poor match)


def look_of(image: np.ndarray, box: Sequence[float]) -> Look | None:
    """Mean BGR of the upper body (20-50% down the box) and of the legs (55-85%), middle half across."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    out: list[float] = []
    for top, bottom in ((0.2, 0.5), (0.55, 0.85)):
        c1, c2 = int(max(0, x1 + bw / 4)), int(min(w, x2 - bw / 4))
        r1, r2 = int(max(0, y1 + bh * top)), int(min(h, y1 + bh * bottom))
        if c2 <= c1 or r2 <= r1:
            return None
        step_r, step_c = max(1, (r2 - r1) // _SAMPLES), max(1, (c2 - c1) // _SAMPLES)
        region = image[r1:r2:step_r, c1:c2:step_c].reshape(-1, image.shape[2] if image.ndim == 3 else 1)
        out += [float(v) for v in region.mean(axis=0)]
    return tuple(out)


def with_looks(image: np.ndarray, detections: Sequence[Detection]) -> list[Detection]:
    """The detections with their :func:`look_of` in this image."""
    return [replace(d, look=look_of(image, d.box)) for d in detections]


def look_distance(a: Look, b: Look) -> float:
    """Root-mean-square difference of two looks, per colour channel (0-255)."""
    return sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) / len(a))


def blend(old: Look | None, new: Look, weight: float = 0.2) -> Look:
    """A track's look, moved ``weight`` of the way towards a new sighting."""
    if old is None:
        return new
    return tuple(o + weight * (n - o) for o, n in zip(old, new, strict=True))


def size_of(box: Sequence[float]) -> float:
    return sqrt(max(box[2] - box[0], 1e-3) * max(box[3] - box[1], 1e-3))


def centre(box: Sequence[float]) -> tuple[float, float]:
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def distance_to_path(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance from ``p`` to the segment ``a``-``b``."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    span = dx * dx + dy * dy
    s = 0.0 if span == 0 else min(1.0, max(0.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / span))
    return hypot(p[0] - (a[0] + s * dx), p[1] - (a[1] + s * dy))


def left_view(box: Sequence[float], frame_size: tuple[float, float], margin: float = 0.01) -> bool:
    """Whether a box touches the picture's border (within ``margin`` of its size): an object last seen
    there most likely walked out of view, and whoever comes in at that spot next is someone else."""
    w, h = frame_size
    return box[0] <= margin * w or box[1] <= margin * h or box[2] >= (1 - margin) * w or box[3] >= (1 - margin) * h


@dataclass(frozen=True, slots=True)
class LostTrack:
    """What re-identification knows of a lost track: its last matched box, its speed then (px/s), when."""

    box: tuple[float, float, float, float]
    vx: float
    vy: float
    seen_at: float
    family: str
    reid_speed: float  # box sizes per second a course may change
    look: Look | None = None

    def reach(self, now: float) -> tuple[tuple[float, float], tuple[float, float], float]:
        """The path it may have taken by ``now`` (from, to) and how far off it it may be (px)."""
        gap = max(0.0, now - self.seen_at)
        size = size_of(self.box)
        start = centre(self.box)
        # A speed estimated from a few jittery boxes can be wild: never more than 3x the course slack.
        cap = 3 * self.reid_speed * size
        speed = hypot(self.vx, self.vy)
        k = 1.0 if speed <= cap else cap / speed
        end = (start[0] + k * self.vx * gap, start[1] + k * self.vy * gap)
        return start, end, size * (REID_BASE + self.reid_speed * gap)


def reid_cost(lost: LostTrack, det: Detection, det_family: str, now: float, max_look: float) -> float:
    """How well ``det`` continues ``lost``: 0 is perfect, ``inf`` implausible."""
    if det_family != lost.family:
        return inf
    scale = size_of(det.box) / size_of(lost.box)
    if not 1 / MAX_SCALE <= scale <= MAX_SCALE:
        return inf
    start, end, radius = lost.reach(now)
    off = distance_to_path(centre(det.box), start, end) / radius
    if off > 1.0:
        return inf
    if lost.look is None or det.look is None:
        return off + _NO_LOOK
    differ = look_distance(lost.look, det.look) / max_look
    return inf if differ > 1.0 else off + differ


def reidentify(
    lost: Sequence[LostTrack], dets: Sequence[Detection], families: Sequence[str], now: float, *, max_look: float
) -> list[tuple[int, int]]:
    """Index pairs (lost track, detection) of one optimal assignment among the plausible pairs."""
    if not lost or not dets:
        return []
    cost = np.array([[reid_cost(t, d, f, now, max_look) for d, f in zip(dets, families, strict=True)] for t in lost])
    ok = np.isfinite(cost)
    if not ok.any():
        return []
    rows, cols = linear_sum_assignment(np.where(ok, cost, 1e6))
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if ok[r, c]]
