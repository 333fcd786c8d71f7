"""Who may greet a car at a pump: people who did not come from a car, or who wear the uniform.

A person is a car's *occupant* when their track first appears where people get out of cars: inside
the service area, or at a vehicle's box. An occupant who walks off (to the shop, to pay) and comes back
is usually a new track, first seen where the old one was lost - the shop door, the edge of the picture
- and the tracker cannot say they are the same. So a new track that first appears within a box height
of where an occupant was last seen, within ``RETURN_S``, is that occupant back (each sighting is claimed
once). Before this, a driver back from the shop under a new id counted as the car's greeting.

The price: an attendant coming out of the very door a driver went into also reads as that driver back.
A bay with a uniform colour does not pay it: there the uniform alone decides (``uniformed`` marks who
wears it, frame by frame), whoever the person came from - an attendant re-found at the car under a new
id still greets.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from math import hypot

from edge.vision.tracker import Track
from edge.vision.zones import Point, point_in_polygon

FORGET_S = 60.0  # a person unseen this long is forgotten (track ids are never reused)
RETURN_S = 900.0  # how long an occupant out of view may be away (a shop visit) and still be recognised back


@dataclass(slots=True)
class _Sighting:
    at: float
    point: Point
    height: float


class Origins:
    """``update(tracks, now, uniformed)`` every frame; then :meth:`may_greet` per person in the service area."""

    def __init__(self, service_area: Sequence[Point], *, uniform_required: bool = False) -> None:
        self.service_area = list(service_area)
        self.uniform_required = uniform_required
        self._people: dict[int, float] = {}  # person track id -> last seen
        self._occupants: dict[int, _Sighting] = {}  # occupant track id -> where and when last seen
        self._uniformed: set[int] = set()

    def update(self, tracks: Sequence[Track], now: float, uniformed: Collection[int] = ()) -> None:
        self._uniformed.update(uniformed)
        vehicles = [t for t in tracks if t.label != "person"]
        people = [t for t in tracks if t.label == "person"]
        visible = {t.id for t in people}
        for t in people:
            new = t.id not in self._people
            self._people[t.id] = now
            if t.id in self._occupants or (new and (self._got_out(t, vehicles) or self._came_back(t, visible))):
                self._occupants[t.id] = _Sighting(now, t.bottom_centre, t.y2 - t.y1)
        for tid in [tid for tid, seen in self._people.items() if now - seen > FORGET_S]:
            del self._people[tid]
            self._uniformed.discard(tid)
        for tid in [tid for tid, s in self._occupants.items() if now - s.at > RETURN_S]:
            del self._occupants[tid]

    def may_greet(self, track_id: int, *, walked_in: bool) -> bool:
        """Whether this person in the service area is an attendant. ``walked_in``: seen outside it first.

        With a uniform hint, the uniform alone decides: an attendant first seen at the car (re-found under a
        new id, or standing there when the service started) still greets."""
        if self.uniform_required:
            return track_id in self._uniformed
        return walked_in and track_id not in self._occupants

    def _got_out(self, person: Track, vehicles: Sequence[Track]) -> bool:
        p = person.bottom_centre
        return point_in_polygon(p, self.service_area) or any(_near_box(p, v) for v in vehicles)

    def _came_back(self, person: Track, visible: Collection[int]) -> bool:
        """First seen where an occupant out of view was last seen: them again (that sighting is used up)."""
        p = person.bottom_centre
        away = [
            (hypot(p[0] - s.point[0], p[1] - s.point[1]), tid) for tid, s in self._occupants.items()
            if tid not in visible and hypot(p[0] - s.point[0], p[1] - s.point[1]) <= max(s.height, person.y2 - person.y1)
        ]
        if not away:
            return False
        del self._occupants[min(away)[1]]
        return True


def _near_box(point: Point, track: Track, margin: float = 0.25) -> bool:
    w, h = track.x2 - track.x1, track.y2 - track.y1
    return (track.x1 - margin * w <= point[0] <= track.x2 + margin * w
            and track.y1 - margin * h <= point[1] <= track.y2 + margin * h)
