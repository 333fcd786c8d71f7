"""The pump-bay visit: arrived -> stopped -> greeted -> departed, timed from frame timestamps.

* **arrived**: a vehicle's bottom-centre crossed into the bay (confirmed for ``confirm_s``).
* **stopped**: it then stayed within ``stop_motion`` box heights of one spot for ``roll_up_s``. When it
  stopped is fitted to a braking curve across the last seconds of its approach and its first still
  frames (:mod:`edge.vision.stopping`), so neither gentle braking nor where the frames fell moves it.
* **greeted**: a person who walked into the bay's service area *from outside* stayed there for
  ``greet_confirm_s``, and did not come from a car (:mod:`edge.vision.greeting`): not the driver or the
  passengers, nor one of them back from the shop under a new track id. With a uniform hint, only people
  the caller marks as uniformed, wherever they came from.
* **departed**: it crossed out of the bay and did not come back within ``merge_window_s``, the merge
  window of drive-thru timers: a car that rolls out of the bay and back (to line up with the hose,
  to let another one past) is one visit, reported that long after it left. A vehicle lost from view
  inside the bay that comes back - under the same or a new track id, near where it was - within
  ``roll_off_s`` continues the same visit too (``merged_gaps`` counts both); one that never comes back
  departed when last seen.
* ``min_fps``: the lowest analysis rate over any ``FPS_WINDOW_S`` of the visit (over the whole visit when
  shorter). Over 2 s, one dropped frame at 3-7 fps read as a rate below the collector's 2 fps goal.

A vehicle that leaves without ever stopping is a pass-through: counted, not a visit.
"""

from collections import deque
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from math import hypot
from statistics import median

from edge.events import Draft
from edge.vision.detection import VEHICLES
from edge.vision.greeting import Origins
from edge.vision.stopping import LOOKBACK_S, stop_time
from edge.vision.tracker import Track
from edge.vision.zones import Point, Zone, ZoneEvent
from forecourt.protocol import VisitBody, format_epoch

FPS_WINDOW_S = 10.0


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
    path: deque[tuple[float, Point]] = field(default_factory=deque)  # sightings until it stops, for the fit
    run_start: float = 0.0  # time of the first frame of the current still run
    run_point: Point | None = None
    stopped_at: float | None = None
    greeted_at: float | None = None
    absent: bool = False  # vanished inside; waiting roll_off_s for it to come back
    left_at: float | None = None  # crossed out; waiting merge_window_s for it to come back
    miss_first: float | None = None  # first and last frames that did not show it (dropped frames do not count)
    miss_last: float = 0.0
    merged_gaps: int = 0
    occluded_s: float = 0.0
    first_frame: float = 0.0  # frames analysed while it was open, for min_fps
    last_frame: float = 0.0
    frames: int = 0
    min_fps: float | None = None

    def sample(self, t: float, p: Point, radius: float, keep_s: float) -> None:
        """Follow the still run: a frame further than ``radius`` from where the run began starts a new one.
        Until it stops, keep the last ``keep_s`` of sightings for the stop-time fit."""
        if self.stopped_at is None:
            self.path.append((t, p))
            while t - self.path[0][0] > keep_s:
                self.path.popleft()
        if self.run_point is not None and hypot(p[0] - self.run_point[0], p[1] - self.run_point[1]) <= radius:
            return
        self.run_start, self.run_point = t, p


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
        merge_window_s: float = 5.0,
        stop_motion: float = 0.1,
        greet_confirm_s: float = 2.0,
        uniform_required: bool = False,
    ) -> None:
        self.id = id
        self.bay = Zone(id, polygon, classes=vehicle_classes, confirm_s=confirm_s, lost_s=confirm_s)
        self.service = Zone(f"{id}.service", service_area or polygon, classes={"person"},
                            confirm_s=greet_confirm_s, lost_s=greet_confirm_s)
        self.origins = Origins(self.service.polygon, uniform_required=uniform_required)
        self.roll_up_s, self.roll_off_s, self.stop_motion = roll_up_s, roll_off_s, stop_motion
        self.merge_window_s = merge_window_s
        self.passes = 0
        self._visits: list[_Visit] = []
        self._times: deque[float] = deque()  # frame times of the last FPS_WINDOW_S
        # Recent sightings of every vehicle, so a visit confirmed a moment before the car stops still
        # has its approach to fit.
        self._history: dict[int, deque[tuple[float, Point]]] = {}
        self._keep_s = roll_up_s + LOOKBACK_S + confirm_s

    @classmethod
    def from_config(cls, cfg: object) -> "PumpBay":
        """From an ``edge.config.ZoneConfig`` of kind ``pump_bay``."""
        classes = [c for c in cfg.classes if c in VEHICLES] or VEHICLES  # type: ignore[attr-defined]
        return cls(
            cfg.id, cfg.polygon, service_area=cfg.service_area, vehicle_classes=classes,  # type: ignore[attr-defined]
            confirm_s=cfg.confirm_s, roll_up_s=cfg.roll_up_s, roll_off_s=cfg.roll_off_s,  # type: ignore[attr-defined]
            merge_window_s=cfg.merge_window_s, stop_motion=cfg.stop_motion,  # type: ignore[attr-defined]
            greet_confirm_s=cfg.greet_confirm_s, uniform_required=cfg.uniform_colour is not None,  # type: ignore[attr-defined]
        )

    def retune(self, cfg: object) -> None:
        """New thresholds from an ``edge.config.ZoneConfig`` (HQ's settings), live: open visits go on by them.

        Plain attribute swaps: the vision thread may read the old value or the new one for one frame, never a mix
        within a threshold."""
        self.bay.confirm_s = self.bay.lost_s = cfg.confirm_s  # type: ignore[attr-defined]
        self.service.confirm_s = self.service.lost_s = cfg.greet_confirm_s  # type: ignore[attr-defined]
        self.roll_up_s, self.roll_off_s = cfg.roll_up_s, cfg.roll_off_s  # type: ignore[attr-defined]
        self.merge_window_s, self.stop_motion = cfg.merge_window_s, cfg.stop_motion  # type: ignore[attr-defined]
        self.origins.uniform_required = cfg.uniform_colour is not None  # type: ignore[attr-defined]
        self._keep_s = self.roll_up_s + LOOKBACK_S + self.bay.confirm_s

    def active(self) -> list[tuple[int, float, float | None, float | None]]:
        """Open visits as (track id, arrived_at, stopped_at, greeted_at), for drawing timers."""
        return [(v.track, v.arrived_at, v.stopped_at, v.greeted_at) for v in self._visits]

    def update(self, tracks: Sequence[Track], now: float, *, uniformed: Collection[int] = ()) -> list[VisitRecord]:
        interval, window_fps = self._frame(now)
        by_id = {t.id: t for t in tracks}
        for t in tracks:
            if self.bay.counts(t.label):
                history = self._history.setdefault(t.id, deque())
                history.append((now, t.bottom_centre))
                while now - history[0][0] > self._keep_s:
                    history.popleft()
        for tid in [tid for tid, h in self._history.items() if now - h[-1][0] > self.roll_off_s]:
            del self._history[tid]
        done: list[VisitRecord] = []
        for v in self._visits:
            self._count_frame(v, now, window_fps)
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
                    v.left_at = ev.at  # out of the bay: departed, unless it is back within merge_window_s
        # A return is confirmed confirm_s after it crosses back in: wait that long past the window too.
        wait_s = self.merge_window_s + self.bay.confirm_s
        for v in [v for v in self._visits if v.left_at is not None and now - v.left_at > wait_s]:
            done += self._finish(v, v.left_at)  # type: ignore[arg-type]
        lost = [v for v in self._visits
                if v.left_at is None and v.track not in by_id and now - v.last_seen > self.roll_off_s]
        for v in lost:
            done += self._finish(v, v.last_seen)
        self._greet(tracks, now, uniformed)
        return done

    def close(self, now: float) -> list[VisitRecord]:
        """End of stream: open visits depart when they left the bay, or at their vehicle's last sighting."""
        done: list[VisitRecord] = []
        for v in list(self._visits):
            done += self._finish(v, v.last_seen if v.left_at is None else v.left_at)
        return done

    def _frame(self, now: float) -> tuple[float, float]:
        """Remember the frame's time; returns the typical frame interval and the frames per second over the
        FPS_WINDOW_S that ends with it."""
        self._times.append(now)
        while now - self._times[0] >= FPS_WINDOW_S:  # (now - window, now]
            self._times.popleft()
        ts = list(self._times)
        gaps = [b - a for a, b in zip(ts, ts[1:], strict=False) if b > a]
        return (median(gaps) if gaps else 0.0), len(ts) / FPS_WINDOW_S

    def _count_frame(self, v: _Visit, now: float, window_fps: float) -> None:
        """min_fps: the lowest rate over the windows that end at its frames once it is open that long."""
        if v.frames == 0:
            v.first_frame = now
        v.frames += 1
        v.last_frame = now
        if now - v.first_frame >= FPS_WINDOW_S:
            v.min_fps = window_fps if v.min_fps is None else min(v.min_fps, window_fps)

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
        v.sample(now, v.point, self.stop_motion * v.height, self._keep_s)
        if v.stopped_at is None and now - v.run_start >= self.roll_up_s:
            radius = self.stop_motion * v.height
            v.stopped_at = max(v.arrived_at, stop_time(v.path, v.run_start, now, radius=radius))
            v.path.clear()

    def _entered(self, ev: ZoneEvent, by_id: dict[int, Track], now: float, interval: float) -> None:
        track = by_id.get(ev.track_id)
        if track is None:
            return
        same = [v for v in self._visits if v.track == ev.track_id]
        if same:
            self._rejoined(same[0], ev)
            return
        p = track.bottom_centre
        near = [
            v for v in self._visits
            if v.track not in by_id and self._may_rejoin(v, ev, now)
            and hypot(p[0] - v.point[0], p[1] - v.point[1]) <= 0.75 * max(v.height, track.y2 - track.y1)
        ]
        if near:  # the same vehicle under a new id (or re-found after a long occlusion, or back from a roll-off)
            v = min(near, key=lambda v: hypot(p[0] - v.point[0], p[1] - v.point[1]))
            if v.left_at is None and v.miss_first is not None and v.miss_first < ev.at:  # unseen before the new id
                v.occluded_s += max(0.0, ev.at - interval / 2 - (v.last_seen + v.miss_first) / 2)
            v.miss_first = None
            v.merged_gaps += 1
            v.track, v.absent, v.left_at = ev.track_id, False, None
            v.track_ids.append(ev.track_id)
            v.run_point = None
            v.last_seen, v.point = now, p
            return
        v = _Visit(ev.track_id, ev.at, now, p, track.y2 - track.y1, [ev.track_id])
        for t, q in self._history.get(ev.track_id, [(now, p)]):
            v.sample(t, q, self.stop_motion * v.height, self._keep_s)
        self._visits.append(v)

    def _may_rejoin(self, v: _Visit, ev: ZoneEvent, now: float) -> bool:
        if v.left_at is not None:
            return ev.at - v.left_at <= self.merge_window_s
        return now - v.last_seen <= self.roll_off_s

    def _rejoined(self, v: _Visit, ev: ZoneEvent) -> None:
        """Its own track crossed back in: a roll-off and back within the merge window is the same visit."""
        if v.left_at is not None and ev.at - v.left_at <= self.merge_window_s:
            v.left_at, v.merged_gaps = None, v.merged_gaps + 1

    def _finish(self, v: _Visit, departed_at: float) -> list[VisitRecord]:
        self._visits.remove(v)
        if v.stopped_at is None:
            self.passes += 1
            return []
        departed_at = max(departed_at, v.stopped_at)
        greeted = v.greeted_at if v.greeted_at is not None and v.greeted_at <= departed_at else None
        min_fps = v.min_fps
        if min_fps is None and v.frames >= 2 and v.last_frame > v.first_frame:  # shorter than the window
            min_fps = (v.frames - 1) / (v.last_frame - v.first_frame)
        return [VisitRecord(self.id, v.arrived_at, v.stopped_at, greeted, departed_at, v.merged_gaps,
                            v.occluded_s, min_fps, tuple(v.track_ids))]

    def _greet(self, tracks: Sequence[Track], now: float, uniformed: Collection[int]) -> None:
        people = [t for t in tracks if t.label == "person"]
        self.origins.update(tracks, now, uniformed)
        self.service.update(people, now)
        waiting = [v for v in self._visits if v.stopped_at is not None and v.greeted_at is None]
        if not waiting:
            return
        arrivals = [
            ev.entered_at for tid, ev in self.service.occupants().items()
            if self.origins.may_greet(tid, walked_in=ev.from_outside)
        ]
        if arrivals:
            for v in waiting:  # an attendant already waiting there greets the car as it stops
                v.greeted_at = max(min(arrivals), v.stopped_at or 0.0)
