"""The demo's simulator and driver: pure, seeded plans with the patterns the dashboard must show, and
bouncy edges that the real debouncer turns back into exactly the planned presses."""

import random
from collections import Counter
from pathlib import Path

import pytest

from edge.sensors.debounce import Debouncer
from forecourt.demo.driver import edges, timeline, visit_draft
from forecourt.demo.fleet import FLEET, registry_csv, station_config
from forecourt.demo.simulator import DAY_S, Press, plan, plan_day, restroom_mood, serialize, traffic_shape
from forecourt.protocol import event_from

MONDAY = 20 * 7 * DAY_S + 4 * DAY_S  # 1970-01-01 was a Thursday: day 4 of any week is a Monday
BY_ID = {p.station: p for p in FLEET}


def config_for(station: str, tmp_path: Path = Path("/tmp/unused")):
    profile = BY_ID[station]
    return profile, station_config(profile, FLEET.index(profile), data_dir=tmp_path, broker_url="mqtt://127.0.0.1:1", password="x")


def hour_of(t: float) -> float:
    return (t % DAY_S) / 3600


def test_every_fleet_config_is_valid_and_the_registry_lists_every_station():
    ids = []
    for index, profile in enumerate(FLEET):
        config = station_config(profile, index, data_dir=Path("/tmp/x"), broker_url="mqtt://127.0.0.1:1", password="x")
        assert config.station.id == profile.station
        ids.append(profile.station)
    assert len(FLEET) == 12 and len(set(ids)) == 12
    assert {p.region.split("/")[0] for p in FLEET} == {"east", "west", "north"}
    lines = registry_csv().splitlines()
    assert lines[0] == "id,name,region" and [line.split(",")[0] for line in lines[1:]] == ids


def test_plans_are_seeded():
    profile, config = config_for("oslo-grorud")
    assert plan_day(profile, config, MONDAY, seed=1) == plan_day(profile, config, MONDAY, seed=1)
    assert plan_day(profile, config, MONDAY, seed=1) != plan_day(profile, config, MONDAY, seed=2)


def test_traffic_has_a_morning_and_evening_rush_and_quiet_nights():
    assert traffic_shape(8) > 4 * traffic_shape(3)
    assert traffic_shape(17) > 4 * traffic_shape(3)
    assert traffic_shape(8) > traffic_shape(10.5) < traffic_shape(17)
    profile, config = config_for("stavanger-forus")
    week = plan(profile, config, MONDAY, MONDAY + 5 * DAY_S, seed=3)
    by_hour = Counter(int(hour_of(v.arrived_at)) for v in week.visits)
    assert by_hour[8] > 3 * by_hour[3] and by_hour[17] > 3 * by_hour[3]


def checkins(day, config, room: str = "ladies") -> list[float]:
    pin = next(r.button_pin for r in config.restrooms if r.id == room)
    return [p.at for p in day.presses if p.pin == pin]


def longest_gap_h(times: list[float]) -> tuple[float, float]:
    gaps = [(b - a, a) for a, b in zip(times, times[1:], strict=False)]
    gap, at = max(gaps)
    return gap / 3600, hour_of(at)


def test_the_skipping_cleaner_leaves_an_afternoon_gap_on_most_days_and_the_others_do_not():
    skipper, skipper_config = config_for("bergen-danmarksplass")
    steady, steady_config = config_for("trondheim-sentrum")
    skipped = 0
    for d in range(10):
        day_start = MONDAY + d * DAY_S
        gap_h, starts_at = longest_gap_h(checkins(plan_day(skipper, skipper_config, day_start), skipper_config))
        if gap_h >= 2.0:
            assert 12 <= starts_at < 15, "the long gap is the early afternoon"
            skipped += 1
        steady_gap_h, _ = longest_gap_h(checkins(plan_day(steady, steady_config, day_start), steady_config))
        assert steady_gap_h < 1.7
    assert skipped >= 6


def test_check_ins_stay_inside_active_hours():
    profile, config = config_for("oslo-majorstuen")
    day = plan_day(profile, config, MONDAY)
    times = checkins(day, config, "ladies") + checkins(day, config, "gents")
    assert times and all(6 <= hour_of(t) < 23.1 for t in times)


def bursts(day, pins: set[int], window_s: float = 10.0, size: int = 8) -> int:
    times = sorted(p.at for p in day.presses if p.pin in pins)
    return sum(1 for i in range(len(times) - size + 1) if times[i + size - 1] - times[i] < window_s)


def test_only_the_hammered_kiosk_gets_bursts_of_presses_inside_the_response_interval():
    hammered, h_config = config_for("trondheim-lade")
    normal, n_config = config_for("oslo-grorud")
    shop = lambda config: set(next(k for k in config.kiosks if k.id == "shop-counter").buttons)  # noqa: E731
    for d in range(3):
        assert bursts(plan_day(hammered, h_config, MONDAY + d * DAY_S), shop(h_config)) >= 3
        assert bursts(plan_day(normal, n_config, MONDAY + d * DAY_S), shop(n_config)) == 0


def test_restroom_customers_grow_unhappier_the_longer_since_the_last_cleaning():
    assert restroom_mood(0.9, 20) == restroom_mood(0.9, 60) > restroom_mood(0.9, 120) > restroom_mood(0.9, 180)
    assert restroom_mood(0.9, 400) == restroom_mood(0.9, 180)  # the penalty saturates at 3 h
    assert restroom_mood(0.6, 30) < restroom_mood(0.9, 30)


def test_no_pin_is_pressed_again_before_it_is_released():
    presses = [Press(10.0, 5, 0.5, "a"), Press(10.2, 5, 0.3, "b"), Press(10.2, 6, 0.3, "c")]
    out = serialize(presses)
    assert [p.why for p in out] == ["a", "c", "b"]
    assert out[2].at == pytest.approx(10.75)  # after a's release plus the finger's 0.25 s
    profile, config = config_for("trondheim-lade")
    free_at: dict[int, float] = {}
    for press in plan_day(profile, config, MONDAY).presses:
        assert press.at >= free_at.get(press.pin, 0)
        free_at[press.pin] = press.at + press.hold_s


@pytest.mark.parametrize("seed", range(20))
def test_bouncy_edges_debounce_back_to_exactly_the_planned_press(seed):
    press = Press(1_700_000_000.0, 17, 0.15, "rating")
    raw = sorted(edges(press, random.Random(seed)))
    assert raw[0].pressed and not raw[-1].pressed
    assert all(a.pressed != b.pressed for a, b in zip(raw, raw[1:], strict=False)), "edges alternate like a wire"
    debouncer = Debouncer(0.030)
    confirmed = [t for e in raw for t in debouncer.edge(e.pressed, e.at)] + debouncer.settle(press.at + 1)
    assert [(t.pressed, t.at) for t in confirmed] == [(True, press.at), (False, press.at + press.hold_s)]


def test_visits_never_share_a_bay_and_become_valid_protocol_events():
    profile, config = config_for("stavanger-forus")
    day = plan_day(profile, config, MONDAY)
    by_bay: dict[str, list] = {}
    for visit in day.visits:
        by_bay.setdefault(visit.bay, []).append(visit)
        assert visit.arrived_at <= visit.stopped_at <= visit.departed_at
        if visit.greeted_at is not None:
            assert visit.stopped_at < visit.greeted_at < visit.departed_at
    for visits in by_bay.values():
        visits.sort(key=lambda v: v.arrived_at)
        assert all(a.departed_at <= b.arrived_at for a, b in zip(visits, visits[1:], strict=False))
    draft = visit_draft(day.visits[0])
    envelope = {"id": "abcdef0123", "seq": 1, "station": profile.station, "ts": "2026-11-23T10:00:00.000Z", "kind": "visit"}
    event = event_from(draft.body, **envelope)
    assert event.dwell_s == pytest.approx(day.visits[0].departed_at - day.visits[0].arrived_at, abs=1e-3)


def test_a_window_plan_is_cut_to_the_window_and_played_in_time_order():
    profile, config = config_for("oslo-sentrum")
    start, end = MONDAY + 8 * 3600, MONDAY + 9 * 3600
    window = plan(profile, config, start, end)
    assert window.presses and all(start <= p.at < end for p in window.presses)
    assert window.visits and all(start <= v.departed_at < end for v in window.visits)
    items = timeline(window, random.Random(0))
    assert [t for t, _, _ in items] == sorted(t for t, _, _ in items)
