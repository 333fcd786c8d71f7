"""When a vehicle came to rest, from the sightings of its bottom-centre: a braking curve fitted across the stop.

Why a fit: a car that brakes gently creeps its last decimetres, so the frames that look still begin
before it has stopped, and extrapolating its last moving frames at constant speed - what the bay did
before - put the stop 0.26-0.64 s early at 3-7 fps, reading every greeting that much long.

The model is the remaining distance along the approach, ``s(t) = v*u + k*u**2`` with ``u = max(ts - t, 0)``
and ``v, k >= 0``: a constant deceleration ``2k`` that ends at speed ``v`` when the car stops at ``ts``
(``v = 0`` a smooth stop, ``k = 0`` an abrupt one), and ``s = 0`` from then on. For a candidate ``ts``
the best ``v`` and ``k`` are a two-parameter non-negative least-squares fit in closed form; ``ts`` is the
candidate with the smallest residual, searched on a 50 ms grid and refined to 5 ms. The still frames
after the stop take part: a ``ts`` too late would have them moving, one too early would leave the last
moving frames unexplained.

A smooth stop can hide in the jitter: its last decimetres move less than the box shakes, and a curve
that ends at speed a little earlier fits as well. Speed does not jump to zero, so of the stop times
whose residual is within the 95% band of the best (judged by the jitter of the still frames), the
latest is taken; an abrupt stop pins the residual down sharply and is barely moved by this. Pure and
cheap: it runs once per visit, on a few seconds of sightings.
"""

from collections.abc import Sequence
from math import hypot
from statistics import median

Point = tuple[float, float]
LOOKBACK_S = 2.0  # seconds of approach before the still run that the fit reads
_COARSE_S, _FINE_S = 0.05, 0.005
_MIN_JITTER_PX = 0.5  # a floor under the jitter measured at rest, which a few frames can underestimate
_CHI2_1DOF_95 = 3.84  # a residual within this many jitter variances of the best is as likely
STANDING_S = 1.0  # this long within ``radius`` of one spot is standing, not approaching


def stop_time(path: Sequence[tuple[float, Point]], still_from: float, now: float, *, radius: float) -> float:
    """When the vehicle stopped, given its sightings ``path`` (time order), the first frame of its still
    run ``still_from`` and how far a still vehicle's point may drift (``radius``, px); within [the first
    sighting read, ``now``]. Without an approach to read (first seen already standing), ``still_from``."""
    still = [p for t, p in path if t >= still_from]
    if not still:
        return still_from
    rest = (median(p[0] for p in still), median(p[1] for p in still))
    begin = max(still_from - LOOKBACK_S, _moved_off(path, still_from, rest, radius))
    recent = [(t, p) for t, p in path if t >= begin]
    if len(recent) - len(still) < 2:
        return still_from
    start = recent[0][1]
    length = hypot(rest[0] - start[0], rest[1] - start[1])
    if length == 0:
        return still_from
    ux, uy = (rest[0] - start[0]) / length, (rest[1] - start[1]) / length
    # Signed distance still to go along the approach: still frames scatter around 0 instead of above it.
    samples = [(t, (rest[0] - p[0]) * ux + (rest[1] - p[1]) * uy) for t, p in recent]
    # How much the box jitters at rest says which residuals are as good as the best one.
    still_s = [s for t, s in samples if t >= still_from]
    slack = _CHI2_1DOF_95 * max(_MIN_JITTER_PX**2, sum(s * s for s in still_s) / len(still_s))
    coarse = [(ts, _residual(samples, ts)) for ts in _grid(samples[0][0], now, _COARSE_S)]
    limit = min(r for _, r in coarse) + slack
    latest = max(ts for ts, r in coarse if r <= limit)
    fine = [ts for ts in _grid(latest, min(now, latest + _COARSE_S), _FINE_S) if _residual(samples, ts) <= limit]
    return max(fine, default=latest)


def _moved_off(path: Sequence[tuple[float, Point]], still_from: float, rest: Point, radius: float) -> float:
    """The last frame of a standstill away from where it came to rest (queueing before the bay, parked
    outside after a roll-off), or -inf: the approach starts there, and the model knows no standing start.
    Away means more than two ``radius`` from the rest point, so the creep at the end of a gentle stop,
    which can stay within ``radius`` for a second too, is not one."""
    moving = [(t, p) for t, p in path if t < still_from]
    for i in range(len(moving) - 1, -1, -1):
        t, p = moving[i]
        if hypot(p[0] - rest[0], p[1] - rest[1]) <= 2 * radius:
            continue
        j = i
        while j > 0 and hypot(moving[j - 1][1][0] - p[0], moving[j - 1][1][1] - p[1]) <= radius:
            j -= 1
        if t - moving[j][0] >= STANDING_S:
            return t
    return float("-inf")


def _grid(lo: float, hi: float, step: float) -> list[float]:
    n = max(1, int((hi - lo) / step))
    return [lo + (hi - lo) * i / n for i in range(n + 1)]


def _residual(samples: Sequence[tuple[float, float]], ts: float) -> float:
    """Least squares of s = v*u + k*u**2 (v, k >= 0, u = ts - t before ts, s = 0 after) for one ``ts``."""
    saa = sab = sbb = sas = sbs = sss = 0.0
    for t, s in samples:
        sss += s * s
        u = ts - t
        if u <= 0:
            continue
        a, b = u, u * u
        saa, sab, sbb, sas, sbs = saa + a * a, sab + a * b, sbb + b * b, sas + a * s, sbs + b * s
    if saa == 0:
        return sss

    def sse(v: float, k: float) -> float:
        return sss - 2 * (v * sas + k * sbs) + v * v * saa + 2 * v * k * sab + k * k * sbb

    det = saa * sbb - sab * sab
    if det > 1e-12 * saa * sbb:
        v, k = (sas * sbb - sbs * sab) / det, (sbs * saa - sas * sab) / det
        if v >= 0 and k >= 0:
            return sse(v, k)
    # The unconstrained optimum is outside v, k >= 0: the constrained one lies on an edge.
    return min(sse(max(0.0, sas / saa), 0.0), sse(0.0, max(0.0, sbs / sbb)))
