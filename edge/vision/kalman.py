"""A constant-velocity Kalman filter on a box, stepped by elapsed seconds rather than frames.

ByteTrack's (Zhang et al., 2022) on (centre x, centre y, aspect w/h, height); its noise was tuned per
frame at 30 fps, so elapsed time is counted in those frames: a Pi that drops from 10 to 3 fps predicts a
track the right distance ahead, and a long gap widens the search as many frames would.
"""

from collections.abc import Sequence

import numpy as np

REF_FPS = 30.0
_W_POS, _W_VEL = 1 / 20, 1 / 160


class KalmanBox:
    """``predict(dt)`` then ``update(box)``; :meth:`box` and :meth:`velocity` (px/s) read the state."""

    def __init__(self, box: Sequence[float], velocity: tuple[float, float] = (0.0, 0.0)) -> None:
        z = self._measure(box)
        h = z[3]
        self.mean = np.r_[z, velocity[0] / REF_FPS, velocity[1] / REF_FPS, 0.0, 0.0]
        std = [2 * _W_POS * h, 2 * _W_POS * h, 1e-2, 2 * _W_POS * h,
               10 * _W_VEL * h, 10 * _W_VEL * h, 1e-5, 10 * _W_VEL * h]
        self.cov = np.diag(np.square(std))

    @staticmethod
    def _measure(box: Sequence[float]) -> np.ndarray:
        x1, y1, x2, y2 = box
        h = max(y2 - y1, 1e-3)
        return np.array([(x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / h, h])

    def predict(self, dt: float, *, hold_size: bool = False) -> None:
        steps = dt * REF_FPS
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
        return float(self.mean[4] * REF_FPS), float(self.mean[5] * REF_FPS)
