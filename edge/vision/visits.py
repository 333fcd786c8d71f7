"""The pump-bay visit: arrived -> stopped -> greeted -> departed, timed from frame timestamps.

* **arrived**: a vehicle's bottom-centre crossed into the bay (confirmed for ``confirm_s``).
* **stopped**: it then stayed within ``stop_motion`` box heights of one spot for ``roll_up_s``. The
  stop time is extrapolated from its approach speed between the last two moving frames, so it does
  not depend on where the frames happened to fall.
* **greeted**: a person who walked into the bay's service area *from outside* stayed there for
  ``greet_confirm_s``. People first seen inside the service area or at the car (the driver, the
  passengers) never count; with a uniform hint only people the caller marks as uniformed count.
* **departed**: it crossed out of the bay. A vehicle lost from view inside the bay that comes back -
  under the same or a new track id, near where it was - within ``roll_off_s`` continues the same visit
  (``merged_gaps``); one that never comes back departed when last seen.

A vehicle that leaves without ever stopping is a pass-through: counted, not a visit.
"""

from collections import deque
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from math import hypot
from statistics import median

from edge.events import Draft
from edge.vision.detection import VEHICLES
from edge.vision.tracker import Track
from edge.vision.zones import Point, Zone, ZoneEvent, point_in_polygon
from forecourt.protocol import VisitBody, format_epoch


@dataclass(frozen=True, slots=True)
class VisitRecord:
    bay: str
    arrived_at: float
    stopped_at: float
    greeted_at: float | None
    departed_at: float
    merged_gaps: int = 0
    occluded_s: float = 0.0
    min_fps: float | None = None
    track_ids: tuple[int, ...] = ()

    @property
    def greet_s(self) -> float | None:
        return None if self.greeted_at is None else self.greeted_at - self.stopped_at

    @property
    def dwell_s(self) -> float:
        return self.departed_at - self.arrived_at

    def to_draft(self) -> Draft:
        """A ``visit`` event draft: protocol fields only (times as text, no images, no track ids)."""
        greet = self.greet_s
        return Draft(self.departed_at, VisitBody(
            bay=self.bay,
            arrived_at=format_epoch(self.arrived_at),
            stopped_at=format_epoch(self.stopped_at),
            greeted_at=None if self.greeted_at is None else format_epoch(self.greeted_at),
            departed_at=format_epoch(self.departed_at),
            greet_s=None if greet is None else round(greet, 3),
            dwell_s=round(self.dwell_s, 3),
            merged_gaps=self.merged_gaps,
            occluded_s=round(self.occluded_s, 3),
            min_fps=None if self.min_fps is None else round(self.min_fps, 2),
        ))


@dataclass(slots=True)
class _Visit:
    track: int
    arrived_at: float
    last_seen: float
    point: Point
    height: float
    track_ids: list[int]
    samples: deque[tuple[float, Point]] = field(default_factory=lambda: deque(maxlen=3))
    run_start: float = 0.0  # time of the first frame of the current still run
    run_point: Point = (0.0, 0.0)
    stopped_at: float | None = None
    greeted_at: float | None = None
    absent: bool = False  # vanished inside; waiting roll_off_s for it to come back
    miss_first: float | None = None  # first and last frames that did not show it (dropped frames do not count)
    miss_last: float = 0.0
    merged_gaps: int = 0
    occluded_s: float = 0.0
    min_fps: float | None = None

    def sample(self, t: float, p: Point, radius: float) -> None:
        """Keep the frames where a still run started: moving, every frame starts one; at rest, none."""
        if self.samples and hypot(p[0] - self.run_point[0], p[1] - self.run_point[1]) <= radius:
            return
        self.samples.append((t, p))
        self.run_start, self.run_point = t, p

    def stop_time(self, now: float, p: Point) -> float:
        """When it came to rest: the last moving frame plus the time its approach speed needs to cover
        the remaining distance to where it stands now (exact for a constant-speed approach)."""
        before = list(self.samples)[:-1]
        if len(before) < 2:
            return self.run_start
        (t0, p0), (t1, p1) = before[-2], before[-1]
        speed = hypot(p1[0] - p0[0], p1[1] - p0[1]) / max(t1 - t0, 1e-6)
        if speed <= 0:
            return self.run_start
        return min(max(t1 + hypot(p[0] - p1[0], p[1] - p1[1]) / speed, t1), now)


class PumpBay:
    """``update(tracks, now) -> list[VisitRecord]`` (visits that ended); ``passes`` counts pass-throughs."""

    def __init__(
        self,
        id: str,
        polygon: Sequence[Point],
        *,
        service_area: Sequence[Point] | None = None,
        vehicle_classes: Iterable[str] = VEHICLES,
        confirm_s: float = 1.0,
        roll_up_s: float = 3.0,
        roll_off_s: float = 10.0,
        stop_motion: float = 0.1,
        greet_confirm_s: float = 2.0,
        uniform_required: bool = False,
    ) -> None:
        self.id = id
        self.bay = Zone(id, polygon, classes=vehicle_classes, confirm_s=confirm_s, lost_s=confirm_s)
        self.service = Zone(f"{id}.service", service_area or polygon, classes={"person"},
                            confirm_s=greet_confirm_s, lost_s=greet_confirm_s)
        self.roll_up_s, self.roll_off_s, self.stop_motion = roll_up_s, roll_off_s, stop_motion
        self.uniform_required = uniform_required
        self.passes = 0
        self._visits: list[_Visit] = []
        self._people: dict[int, float] = {}  # person track id -> last seen (forgotten after a minute)
        self._drivers: set[int] = set()
        self._uniformed: set[int] = set()
        self._times: deque[float] = deque()
        # Recent sightings of every vehicle, so a visit confirmed a frame before the car stops still
        # knows its approach speed.
        self._history: dict[int, deque[tuple[float, Point]]] = {}

    @classmethod
    def from_config(cls, cfg: object) -> "PumpBay":
        """From an ``edge.config.ZoneConfig`` of kind ``pump_bay``."""
        classes = [c for c in cfg.classes if c in VEHICLES] or VEHICLES  # type: ignore[attr-defined]
        return cls(
            cfg.id, cfg.polygon, service_area=cfg.service_area, vehicle_classes=classes,  # type: ignore[attr-defined]
            confirm_s=cfg.confirm_s, roll_up_s=cfg.roll_up_s, roll_off_s=cfg.roll_off_s,  # type: ignore[attr-defined]
            stop_motion=cfg.stop_motion, greet_confirm_s=cfg.greet_confirm_s,  # type: ignore[attr-defined]
            uniform_required=cfg.uniform_colour is not None,  # type: ignore[attr-defined]
        )

    def active(self) -> list[tuple[int, float, float | None, float | None]]:
        """Open visits as (track id, arrived_at, stopped_at, greeted_at), for drawing timers."""
        return [(v.track, v.arrived_at, v.stopped_at, v.greeted_at) for v in self._visits]

    def update(self, tracks: Sequence[Track], now: float, *, uniformed: Collection[int] = ()) -> list[VisitRecord]:
        fps, interval = self._rate(now)
        by_id = {t.id: t for t in tracks}
        for t in tracks:
            if self.bay.counts(t.label):
                self._history.setdefault(t.id, deque(maxlen=8)).append((now, t.bottom_centre))
        for tid in [tid for tid, h in self._history.items() if now - h[-1][0] > self.roll_off_s]:
            del self._history[tid]
        done: list[VisitRecord] = []
        for v in self._visits:
            if fps is not None:
                v.min_fps = fps if v.min_fps is None else min(v.min_fps, fps)
            track = by_id.get(v.track)
            if track is not None:
                self._seen(v, track, now)
            else:
                v.miss_first = now if v.miss_first is None else v.miss_first
                v.miss_last = now
        for ev in self.bay.update(tracks, now):
            if ev.kind == "enter":
                self._entered(ev, by_id, now, interval)
                continue
            for v in [v for v in self._visits if v.track == ev.track_id]:
                if ev.vanished:
                    v.absent = True
                else:
                    done += self._finish(v, ev.at)
        for v in [v for v in self._visits if v.track not in by_id and now - v.last_seen > self.roll_off_s]:
            done += self._finish(v, v.last_seen)
        self._greet(tracks, now, uniformed)
        return done

    def close(self, now: float) -> list[VisitRecord]:
        """End of stream: open visits depart at their vehicle's last sighting."""
        done: list[VisitRecord] = []
        for v in list(self._visits):
            done += self._finish(v, v.last_seen)
        return done

    def _rate(self, now: float) -> tuple[float | None, float]:
        """Achieved fps over the last two seconds, and the typical frame interval."""
        self._times.append(now)
        while now - self._times[0] > 2.0:
            self._times.popleft()
        ts = list(self._times)
        gaps = [b - a for a, b in zip(ts, ts[1:], strict=False) if b > a]
        fps = (len(ts) - 1) / (ts[-1] - ts[0]) if len(ts) >= 3 and ts[-1] > ts[0] else None
        return fps, (median(gaps) if gaps else 0.0)

    def _seen(self, v: _Visit, track: Track, now: float) -> None:
        if v.miss_first is not None:
            # Out of sight from halfway between the last sighting and the first frame without it, to
            # halfway between the last frame without it and now: frames that never came are no evidence.
            v.occluded_s += max(0.0, (v.miss_last + now) / 2 - (v.last_seen + v.miss_first) / 2)
            v.miss_first = None
        if v.absent:
            v.absent, v.merged_gaps = False, v.merged_gaps + 1
        v.last_seen, v.point = now, track.bottom_centre
        v.height = track.y2 - track.y1
        v.sample(now, v.point, self.stop_motion * v.height)
        if v.stopped_at is None and now - v.run_start >= self.roll_up_s:
            v.stopped_at = max(v.arrived_at, v.stop_time(now, v.point))

    def _entered(self, ev: ZoneEvent, by_id: dict[int, Track], now: float, interval: float) -> None:
        track = by_id.get(ev.track_id)
        if track is None or any(v.track == ev.track_id for v in self._visits):
            return
        p = track.bottom_centre
        near = [
            v for v in self._visits
            if v.track not in by_id and now - v.last_seen <= self.roll_off_s
            and hypot(p[0] - v.point[0], p[1] - v.point[1]) <= 0.75 * max(v.height, track.y2 - track.y1)
        ]
        if near:  # the same vehicle under a new id (or re-found after a long occlusion)
            v = min(near, key=lambda v: hypot(p[0] - v.point[0], p[1] - v.point[1]))
            if v.miss_first is not None and v.miss_first < ev.at:  # unseen before the new id appeared
                v.occluded_s += max(0.0, ev.at - interval / 2 - (v.last_seen + v.miss_first) / 2)
            v.miss_first = None
            v.merged_gaps += 1
            v.track, v.absent = ev.track_id, False
            v.track_ids.append(ev.track_id)
            v.samples.clear()
            v.last_seen, v.point = now, p
            return
        v = _Visit(ev.track_id, ev.at, now, p, track.y2 - track.y1, [ev.track_id])
        for t, q in self._history.get(ev.track_id, [(now, p)]):
            v.sample(t, q, self.stop_motion * v.height)
        self._visits.append(v)

    def _finish(self, v: _Visit, departed_at: float) -> list[VisitRecord]:
        self._visits.remove(v)
        if v.stopped_at is None:
            self.passes += 1
            return []
        departed_at = max(departed_at, v.stopped_at)
        greeted = v.greeted_at if v.greeted_at is not None and v.greeted_at <= departed_at else None
        return [VisitRecord(self.id, v.arrived_at, v.stopped_at, greeted, departed_at, v.merged_gaps,
                            v.occluded_s, v.min_fps, tuple(v.track_ids))]

    def _greet(self, tracks: Sequence[Track], now: float, uniformed: Collection[int]) -> None:
        people = [t for t in tracks if t.label == "person"]
        self._uniformed.update(uniformed)
        for t in people:
            known = t.id in self._people
            self._people[t.id] = now
            if known:
                continue
            # Someone who appears at the car (inside the service area or at a vehicle's box) got out of it.
            if point_in_polygon(t.bottom_centre, self.service.polygon) or any(
                _near_box(t.bottom_centre, v) for v in tracks if v.label != "person"
            ):
                self._drivers.add(t.id)
        self.service.update(people, now)
        for tid in [tid for tid, seen in self._people.items() if now - seen > 60.0]:
            del self._people[tid]  # ids are never reused, so a long-running service need not remember them
            self._drivers.discard(tid)
            self._uniformed.discard(tid)
        waiting = [v for v in self._visits if v.stopped_at is not None and v.greeted_at is None]
        if not waiting:
            return
        arrivals = [
            ev.entered_at for tid, ev in self.service.occupants().items()
            if ev.from_outside and tid not in self._drivers
            and (tid in self._uniformed or not self.uniform_required)
        ]
        if arrivals:
            for v in waiting:  # an attendant already waiting there greets the car as it stops
                v.greeted_at = max(min(arrivals), v.stopped_at or 0.0)


def _near_box(point: Point, track: Track, margin: float = 0.25) -> bool:
    w, h = track.x2 - track.x1, track.y2 - track.y1
    return (track.x1 - margin * w <= point[0] <= track.x2 + margin * w
            and track.y1 - margin * h <= point[1] <= track.y2 + margin * h)
