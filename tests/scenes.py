"""Scripted forecourt scenes with known truth.

Actors move along straight-line waypoints of their bottom-centre; a scene is sampled at any frame
times (regular, jittered, with dropped frames) into what a tracker would report (``Track`` lists) or
what a detector would report (``Detection`` lists). The truth is computed from the script itself, not
from any frames, so it is the same for every frame rate.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from edge.vision.detection import Detection
from edge.vision.tracker import Track
from edge.vision.zones import point_in_polygon

T0 = 1_795_000_000.0  # an epoch in 2026: scene times are seconds after it
Point = tuple[float, float]


@dataclass(frozen=True)
class Actor:
    id: int
    label: str
    path: Sequence[tuple[float, float, float]]  # (t, x, y) waypoints of the bottom-centre; absent outside them
    size: tuple[float, float] = (40.0, 100.0)  # box width, height
    hidden: Sequence[tuple[float, float]] = ()  # occlusions: [start, end) not seen
    switch_at: float | None = None  # from this time the tracker reports it as new_id
    new_id: int = 0

    def at(self, t: float) -> Point | None:
        pts = self.path
        if not pts or t < pts[0][0] or t > pts[-1][0]:
            return None
        for (t0, x0, y0), (t1, x1, y1) in zip(pts, pts[1:], strict=False):
            if t0 <= t <= t1:
                f = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
                return (x0 + (x1 - x0) * f, y0 + (y1 - y0) * f)
        return (pts[-1][1], pts[-1][2])

    def visible(self, t: float) -> bool:
        return self.at(t) is not None and not any(a <= t < b for a, b in self.hidden)

    def track_id(self, t: float) -> int:
        return self.new_id if self.switch_at is not None and t >= self.switch_at else self.id

    def crossing(self, polygon: Sequence[Point], *, entering: bool, after: float = -1e9) -> float:
        """Truth: the first time after ``after`` its bottom-centre crosses into (out of) the polygon,
        found by stepping 10 ms along the script and bisecting the step to a microsecond."""
        def inside(t: float) -> bool:
            return point_in_polygon(self.at(t), polygon)  # type: ignore[arg-type]

        t, end = max(self.path[0][0], after), self.path[-1][0]
        was = inside(t)
        while t < end:
            nxt = min(t + 0.01, end)
            now = inside(nxt)
            if now != was and now == entering:
                lo, hi = t, nxt
                while hi - lo > 1e-6:
                    mid = (lo + hi) / 2
                    lo, hi = (mid, hi) if inside(mid) == was else (lo, mid)
                return hi
            was, t = now, nxt
        raise ValueError(f"actor {self.id} never {'enters' if entering else 'leaves'} the polygon")


def braking(x: float, y0: float, y_brake: float, y_stop: float, speed: float, t0: float = 0.0,
            step: float = 0.05) -> tuple[list[tuple[float, float, float]], float]:
    """Waypoints of a vehicle driving down the image at ``speed`` px/s from ``y0``, braking at a constant
    rate from ``y_brake`` to rest at ``y_stop`` (a waypoint every ``step`` s), and the time it stops."""
    t_brake = t0 + (y_brake - y0) / speed
    duration = 2 * (y_stop - y_brake) / speed
    decel = speed / duration
    path = [(t0, x, y0), (t_brake, x, y_brake)]
    path += [
        (t_brake + u, x, y_brake + speed * u - decel * u * u / 2)
        for u in (k * step for k in range(1, int(duration / step) + 1)) if u < duration
    ]
    return path + [(t_brake + duration, x, y_stop)], t_brake + duration


def frame_times(
    start: float, end: float, fps: float, *, jitter: float = 0.0, drop: float = 0.0, seed: int = 0
) -> list[float]:
    """Capture times (scene seconds): nominal 1/fps apart, each moved by up to ``jitter`` of an
    interval, and ``drop`` of them lost, as a busy Pi delivers them."""
    rng = random.Random(seed)
    step, out, i = 1.0 / fps, [], 0
    while start + i * step <= end:
        t = start + i * step + rng.uniform(-jitter, jitter) * step
        i += 1
        if rng.random() < drop:
            continue
        if not out or t > out[-1]:
            out.append(t)
    return out


def _box(actor: Actor, p: Point, rng: random.Random, jitter: float) -> tuple[float, float, float, float]:
    w, h = actor.size
    x, y = p[0] + rng.uniform(-jitter, jitter), p[1] + rng.uniform(-jitter, jitter)
    return (x - w / 2, y - h, x + w / 2, y)


def tracks(
    actors: Sequence[Actor], times: Sequence[float], *, jitter: float = 1.0, seed: int = 0
) -> list[tuple[float, list[Track]]]:
    """What a tracker reports at each time: visible actors, boxes shaken by up to ``jitter`` px."""
    rng = random.Random(seed)
    first: dict[int, float] = {}
    out = []
    for t in times:
        frame = []
        for a in actors:
            p = a.at(t)
            if p is None or not a.visible(t):
                continue
            tid = a.track_id(t)
            first.setdefault(tid, t)
            frame.append(Track(tid, *_box(a, p, rng, jitter), 0.9, a.label, T0 + first[tid], T0 + t))
        out.append((T0 + t, frame))
    return out


def detections(
    actors: Sequence[Actor], times: Sequence[float], *, jitter: float = 1.0, seed: int = 0
) -> list[tuple[float, list[Detection]]]:
    """What a detector reports at each time (no identities)."""
    rng = random.Random(seed)
    return [
        (T0 + t, [Detection(*_box(a, a.at(t), rng, jitter), 0.85, a.label) for a in actors if a.visible(t)])  # type: ignore[arg-type]
        for t in times
    ]


def rect(x1: float, y1: float, x2: float, y2: float) -> list[Point]:
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


@dataclass(frozen=True)
class Truth:
    bay: str
    arrived_at: float
    stopped_at: float
    greeted_at: float | None
    departed_at: float
    merged_gaps: int = 0
    occluded_s: float = 0.0


@dataclass(frozen=True)
class Scene:
    actors: list[Actor]
    bays: dict[str, dict]  # bay id -> PumpBay keyword arguments (polygon, service_area, ...)
    visits: list[Truth]
    passes: dict[str, int] = field(default_factory=dict)
    end: float = 45.0


BAY1, SERVICE1 = rect(100, 200, 300, 400), rect(60, 160, 340, 440)
BAY2, SERVICE2 = rect(420, 200, 620, 200 + 200), rect(380, 160, 660, 440)
CAR = (120.0, 90.0)


def forecourt() -> Scene:
    """Two neighbouring bays, 45 s.

    Bay 1: car A drives in, stops at 2.8 s, its driver gets out and walks off, a passer-by cuts
    across the service area, the attendant walks in, a van hides the car for 4 s, the tracker then
    switches the car's id, and it drives out. Bay 2: car B, served by its own attendant, leaves; then
    car C drives straight through without stopping.
    """
    car_a = Actor(1, "car", [(0, 200, 60), (2.8, 200, 340), (40, 200, 340), (42, 200, 540)], CAR,
                  hidden=[(12.0, 16.0)], switch_at=20.0, new_id=7)
    # The driver stands by the car for 3 s (longer than greet_confirm_s) before walking off: only
    # "appeared at the car" keeps them from counting as the attendant.
    driver = Actor(2, "person", [(6, 120, 350), (9, 110, 350), (10, 20, 350), (12, 20, 580)])
    attendant_a = Actor(3, "person", [(9, 250, 590), (11, 250, 430), (30, 250, 430), (32, 250, 590)])
    passer_by = Actor(4, "person", [(4, 370, 420), (5.85, 0, 420)])
    car_b = Actor(5, "car", [(3, 520, 60), (5.8, 520, 340), (25, 520, 340), (27, 520, 540)], CAR)
    attendant_b = Actor(6, "person", [(15, 560, 590), (17, 560, 430), (22, 560, 430), (24, 560, 590)])
    car_c = Actor(8, "car", [(30, 520, 60), (34, 520, 540)], CAR)
    a_in, b_in = car_a.crossing(BAY1, entering=True), car_b.crossing(BAY2, entering=True)
    return Scene(
        actors=[car_a, driver, attendant_a, passer_by, car_b, attendant_b, car_c],
        bays={"bay-1": {"polygon": BAY1, "service_area": SERVICE1}, "bay-2": {"polygon": BAY2, "service_area": SERVICE2}},
        visits=[
            Truth("bay-1", a_in, 2.8, attendant_a.crossing(SERVICE1, entering=True),
                  car_a.crossing(BAY1, entering=False, after=a_in), merged_gaps=2, occluded_s=4.0),
            Truth("bay-2", b_in, 5.8, attendant_b.crossing(SERVICE2, entering=True),
                  car_b.crossing(BAY2, entering=False, after=b_in)),
        ],
        passes={"bay-2": 1},
    )
