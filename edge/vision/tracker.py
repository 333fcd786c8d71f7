"""A ByteTrack-class multi-object tracker in plain numpy, timed by frame timestamps.

ByteTrack (Zhang et al., 2022) associates in two stages: high-score detections first, against every
track; then the low-score ones, only against tracks still unmatched. A person half hidden behind a
pump keeps their track through the score dip, while low-score clutter can never start a track.

Unlike the reference code, every duration here is in seconds from the frames' capture times: the lost
buffer, the Kalman motion step and the speeds. A Pi that drops from 10 to 3 fps keeps a lost track for
the same wall time and predicts it the right distance ahead; frame-counting trackers do neither.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from math import hypot

import numpy as np
from scipy.optimize import linear_sum_assignment

from edge.vision.detection import VEHICLES, Detection

# ByteTrack's Kalman noise was tuned per frame at 30 fps; we count elapsed time in those frames.
_REF_FPS = 30.0
_W_POS, _W_VEL = 1 / 20, 1 / 160
# ``match_iou`` holds at this frame interval or shorter; slower streams get a proportionally looser gate.
_GATE_DT = 1 / 15


def family(label: str) -> str:
    """Classes that may share a track: detectors flip car/truck on one vehicle, never person/car."""
    return "vehicle" if label in VEHICLES else label


@dataclass(frozen=True, slots=True)
class Track:
    """One confirmed object as seen at ``seen_at``; ``vx``/``vy`` are its centre's speed in px/s."""

    id: int
    x1: float
    y1: float
    x2: float
    y2: float
    score: float
    label: str
    first_seen: float
    seen_at: float
    vx: float = 0.0
    vy: float = 0.0

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)

    @property
    def bottom_centre(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2, self.y2)

    @property
    def speed(self) -> float:
        return hypot(self.vx, self.vy)


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


class KalmanBox:
    """Constant-velocity Kalman filter on (centre x, centre y, aspect w/h, height), as in ByteTrack."""

    def __init__(self, box: Sequence[float]) -> None:
        z = self._measure(box)
        h = z[3]
        self.mean = np.r_[z, np.zeros(4)]
        std = [2 * _W_POS * h, 2 * _W_POS * h, 1e-2, 2 * _W_POS * h,
               10 * _W_VEL * h, 10 * _W_VEL * h, 1e-5, 10 * _W_VEL * h]
        self.cov = np.diag(np.square(std))

    @staticmethod
    def _measure(box: Sequence[float]) -> np.ndarray:
        x1, y1, x2, y2 = box
        h = max(y2 - y1, 1e-3)
        return np.array([(x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / h, h])

    def predict(self, dt: float, *, hold_size: bool = False) -> None:
        steps = dt * _REF_FPS
        if steps <= 0:
            return
        if hold_size:  # a lost box should not keep growing or shrinking (ByteTrack does the same)
            self.mean[7] = 0.0
        h = self.mean[3]
        motion = np.eye(8)
        motion[range(4), range(4, 8)] = steps
        # Process noise grows with elapsed time, so a long gap widens the search like many frames would.
        q = np.square([_W_POS * h, _W_POS * h, 1e-2, _W_POS * h, _W_VEL * h, _W_VEL * h, 1e-5, _W_VEL * h])
        self.mean = motion @ self.mean
        self.cov = motion @ self.cov @ motion.T + np.diag(q) * steps

    def update(self, box: Sequence[float]) -> None:
        z = self._measure(box)
        h = self.mean[3]
        r = np.diag(np.square([_W_POS * h, _W_POS * h, 1e-1, _W_POS * h]))
        s = self.cov[:4, :4] + r
        gain = np.linalg.solve(s, self.cov[:4, :]).T
        self.mean = self.mean + gain @ (z - self.mean[:4])
        self.cov = self.cov - gain @ s @ gain.T

    def box(self) -> np.ndarray:
        cx, cy, a, h = self.mean[:4]
        h = max(h, 1e-3)
        w = a * h
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])

    def velocity(self) -> tuple[float, float]:
        """Centre velocity in px/s."""
        return float(self.mean[4] * _REF_FPS), float(self.mean[5] * _REF_FPS)


@dataclass(eq=False)
class _Tracklet:
    kf: KalmanBox
    score: float
    label: str
    first_seen: float
    seen_at: float
    id: int = 0  # 0 until confirmed: ids are handed out only to tracks that survive a second frame
    lost: bool = False
    votes: dict[str, float] = field(default_factory=dict)

    def hit(self, det: Detection, now: float) -> None:
        self.kf.update(det.box)
        self.score, self.seen_at, self.lost = det.score, now, False
        self.votes[det.label] = self.votes.get(det.label, 0.0) + det.score
        # Majority by summed score: a car read as "truck" in one frame stays a car.
        self.label = max(self.votes, key=self.votes.__getitem__)

    def snapshot(self) -> Track:
        x1, y1, x2, y2 = (float(v) for v in self.kf.box())
        vx, vy = self.kf.velocity()
        return Track(self.id, x1, y1, x2, y2, self.score, self.label, self.first_seen, self.seen_at, vx, vy)


class Tracker:
    """``update(detections, now) -> list[Track]``: the confirmed tracks matched in this frame.

    ``high_score`` splits the two association stages; only detections from ``new_track_score`` up
    start a track (0.7: static clutter such as posts and signs scored 0.3-0.65 as "person" must not
    become long-lived tracks), and a track is confirmed (gets an id) when a second frame matches it.
    Lost tracks are kept ``lost_s`` seconds. The score thresholds equal those of Roboflow's
    ``trackers`` ByteTrack, so the benchmark compares algorithms, not settings.
    """

    def __init__(
        self,
        *,
        high_score: float = 0.6,
        low_score: float = 0.1,
        new_track_score: float = 0.7,
        match_iou: float = 0.3,
        low_match_iou: float = 0.5,
        new_match_iou: float = 0.3,
        lost_s: float = 1.0,
        low_revives_lost: bool = True,
    ) -> None:
        self.low_revives_lost = low_revives_lost
        self.high_score, self.low_score, self.new_track_score = high_score, low_score, new_track_score
        self.match_iou, self.low_match_iou, self.new_match_iou = match_iou, low_match_iou, new_match_iou
        self.lost_s = lost_s
        self._tracks: list[_Tracklet] = []
        self._next_id = 1
        self._last: float | None = None
        self._first = True

    @classmethod
    def from_config(cls, cfg: object) -> "Tracker":
        """From ``edge.config.TrackerConfig`` (any object with the constructor's names as attributes)."""
        names = ("high_score", "low_score", "new_track_score", "match_iou", "lost_s")
        return cls(**{n: getattr(cfg, n) for n in names})

    def lost(self) -> list[Track]:
        """Confirmed tracks not seen in the last frame, at their predicted place (for drawing)."""
        return [t.snapshot() for t in self._tracks if t.id and t.lost]

    def update(self, detections: Sequence[Detection], now: float) -> list[Track]:
        dt = 0.0 if self._last is None else max(0.0, now - self._last)
        self._last = now
        for t in self._tracks:
            t.kf.predict(dt, hold_size=t.lost)
        high = [d for d in detections if d.score >= self.high_score]
        low = [d for d in detections if self.low_score <= d.score < self.high_score]
        confirmed = [t for t in self._tracks if t.id]
        fresh = [t for t in self._tracks if not t.id]

        # Stage 1: confident boxes against every confirmed track, lost ones included (re-identification
        # by motion). Scores are fused into the cost as ByteTrack does, so a sharp box wins a tie. The
        # gate is IoU >= 0.3, about what ByteTrack's fused gate (IoU x score >= 0.2) allows at typical
        # scores; 0.2 let crossing people swap ids (-3 IDF1 on TUD with held-out noise seeds).
        # At 5 fps people move a third of a body width between frames and their boxes change shape more
        # than the constant-velocity prediction follows: a fixed IoU gate then breaks tracks (vtest.avi at
        # 5 fps: 13 likely switches at 0.3, 5 with the looser gate). Never below 0.1, like ByteTrack's.
        gate = self.match_iou if dt <= _GATE_DT else max(0.1, self.match_iou * _GATE_DT / dt)
        pairs, rest_tracks, rest_high = self._match(confirmed, high, gate, fuse=True)
        for t, d in pairs:
            t.hit(d, now)
        # Stage 2: weak boxes keep tracks alive, at a stricter overlap. Unlike the paper we let them also
        # revive a track lost a moment ago: a person half hidden behind a pump is often missed for a frame
        # and then seen weakly (+2-3 MOTA on TUD with noisy detections, bench/tracking.py).
        visible = [t for t in rest_tracks if not t.lost or self.low_revives_lost]
        pairs, unmatched, _ = self._match(visible, low, self.low_match_iou, fuse=False)
        for t, d in pairs:
            t.hit(d, now)
        for t in unmatched:
            t.lost = True
        # Stage 3: tentative tracks confirm on a second confident box, or vanish.
        pairs, dead, rest_high = self._match(fresh, rest_high, self.new_match_iou, fuse=True)
        for t, d in pairs:
            t.hit(d, now)
            t.id, self._next_id = self._next_id, self._next_id + 1
        dead_ids = {id(t) for t in dead}
        self._tracks = [t for t in self._tracks if id(t) not in dead_ids and now - t.seen_at <= self.lost_s]
        first, self._first = self._first, False
        for d in rest_high:
            if d.score >= self.new_track_score:
                t = _Tracklet(KalmanBox(d.box), d.score, d.label, now, now)
                t.votes[d.label] = d.score
                if first:  # nothing to confuse it with yet: confirm at once, as ByteTrack does
                    t.id, self._next_id = self._next_id, self._next_id + 1
                self._tracks.append(t)
        return [t.snapshot() for t in self._tracks if t.id and t.seen_at == now]

    @staticmethod
    def _match(
        tracks: list[_Tracklet], dets: list[Detection], min_iou: float, *, fuse: bool
    ) -> tuple[list[tuple[_Tracklet, Detection]], list[_Tracklet], list[Detection]]:
        if not tracks or not dets:
            return [], list(tracks), list(dets)
        boxes = np.array([t.kf.box() for t in tracks])
        iou = iou_matrix(boxes, np.array([d.box for d in dets]))
        same = np.array([[family(t.label) == family(d.label) for d in dets] for t in tracks])
        iou = np.where(same, iou, 0.0)
        sim = iou * np.array([d.score for d in dets])[None, :] if fuse else iou
        rows, cols = linear_sum_assignment(-sim)
        pairs, used_t, used_d = [], set(), set()
        for r, c in zip(rows, cols, strict=True):
            if iou[r, c] >= min_iou:
                pairs.append((tracks[r], dets[c]))
                used_t.add(r)
                used_d.add(c)
        return (
            pairs,
            [t for i, t in enumerate(tracks) if i not in used_t],
            [d for j, d in enumerate(dets) if j not in used_d],
        )
