"""Zones: inside tests, interpolated crossings, confirmation by time, dwell records."""

import pytest

from edge.vision.tracker import Track
from edge.vision.zones import Zone, crossing_time, point_in_polygon
from forecourt.protocol import ZoneDwell, format_epoch
from tests.scenes import T0, rect

L_SHAPE = [(0, 0), (100, 0), (100, 40), (40, 40), (40, 100), (0, 100)]


@pytest.mark.parametrize(
    ("point", "inside"),
    [((10, 10), True), ((90, 20), True), ((20, 90), True), ((70, 70), False), ((150, 10), False), ((-1, 50), False)],
)
def test_point_in_concave_polygon(point, inside):
    assert point_in_polygon(point, L_SHAPE) is inside


def test_crossing_time_is_interpolated_between_frames():
    # Walking right at 100 px/s from x=50 at t=10: the edge x=100 is crossed at t=10.5.
    assert crossing_time((50, 50), 10.0, (130, 50), 10.8, rect(100, 0, 200, 100)) == pytest.approx(10.5, abs=1e-3)


def person(tid: int, x: float, y: float, t: float, label: str = "person") -> Track:
    return Track(tid, x - 20, y - 100, x + 20, y, 0.9, label, T0, T0 + t)


def walk(zone: Zone, xs_by_time, tid: int = 1, label: str = "person"):
    events = []
    for t, x in xs_by_time:
        events += zone.update([] if x is None else [person(tid, x, 50, t, label)], T0 + t)
    return events


def test_enter_and_leave_need_confirmation_and_keep_the_crossing_time():
    zone = Zone("road", rect(100, 0, 200, 100), confirm_s=1.0)
    # At 5 fps walking 50 px/s from x=60: in at t=0.8, out at t=2.8.
    events = walk(zone, [(i / 5, 60 + 50 * i / 5) for i in range(30)])
    enter, exit_ = events
    assert (enter.kind, exit_.kind) == ("enter", "exit")
    assert enter.at - T0 == pytest.approx(0.8, abs=1e-2)
    assert exit_.at - T0 == pytest.approx(2.8, abs=1e-2)
    assert exit_.dwell_s == pytest.approx(2.0, abs=1e-2)
    assert enter.from_outside and not exit_.vanished


def test_a_flicker_across_the_edge_is_not_an_entry():
    zone = Zone("road", rect(100, 0, 200, 100), confirm_s=1.0)
    assert walk(zone, [(0.0, 90), (0.2, 105), (0.4, 95), (0.6, 90), (0.8, 105), (1.0, 90), (2.0, 90)]) == []


def test_an_object_lost_inside_leaves_when_last_seen_and_says_it_vanished():
    zone = Zone("road", rect(100, 0, 200, 100), confirm_s=0.5, lost_s=1.0)
    events = walk(zone, [(0.0, 150), (0.5, 150), (1.0, 150), (1.5, None), (2.0, None), (2.5, None)])
    enter, exit_ = events
    assert not enter.from_outside  # it appeared inside (got out of a car)
    assert exit_.vanished and exit_.at == T0 + 1.0


def test_classes_are_filtered_and_close_flushes_occupants():
    zone = Zone("bay", rect(100, 0, 200, 100), classes={"car"}, confirm_s=0.0)
    assert walk(zone, [(0.0, 150), (1.0, 150)], label="person") == []
    walk(zone, [(0.0, 150), (1.0, 150)], tid=2, label="car")
    assert list(zone.occupants()) == [2]
    (left,) = zone.close(T0 + 1.0)
    assert left.at == T0 + 1.0 and zone.occupants() == {}


def test_dwell_draft_is_a_valid_protocol_zone_event():
    zone = Zone("road", rect(100, 0, 200, 100), confirm_s=0.2)
    *_, exit_ = walk(zone, [(i / 5, 60 + 50 * i / 5) for i in range(30)])
    draft = exit_.to_draft()
    event = ZoneDwell(id="abcdef012345", seq=1, station="st-1", ts=format_epoch(draft.at), kind=draft.kind, **draft.fields)
    assert (event.zone, event.object_class, event.track_id, event.dwell_s) == ("road", "person", 1, pytest.approx(2.0, abs=0.01))
