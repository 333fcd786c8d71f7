"""The edge-timestamp debouncer: bounce bursts, spikes, holds, and dating changes at first contact."""

import pytest

from edge.sensors.debounce import Debouncer, Transition

BOUNCE = 0.030


def feed(debouncer: Debouncer, edges: list[tuple[float, bool]], settle_at: float) -> list[Transition]:
    out = []
    for at, pressed in edges:
        out += debouncer.edge(pressed, at)
    return out + debouncer.settle(settle_at)


def test_clean_press_and_release_are_dated_at_their_edges():
    d = Debouncer(BOUNCE)
    assert feed(d, [(10.0, True), (10.2, False)], settle_at=11.0) == [
        Transition(True, 10.0),
        Transition(False, 10.2),
    ]


def test_press_is_confirmed_by_the_release_edge_or_by_settle_but_not_before_bounce_time():
    d = Debouncer(BOUNCE)
    assert d.edge(True, 10.0) == []
    assert d.settle(10.029) == []
    assert d.settle(10.0 + BOUNCE) == [Transition(True, 10.0)]
    assert d.settle(10.5) == []  # confirmed once


def test_bouncy_press_and_release_give_one_change_each_dated_at_first_contact():
    press = [(5.0, True), (5.002, False), (5.004, True), (5.007, False), (5.009, True)]
    release = [(5.3, False), (5.301, True), (5.303, False), (5.306, True), (5.310, False)]
    assert feed(Debouncer(BOUNCE), press + release, settle_at=6.0) == [
        Transition(True, 5.0),
        Transition(False, 5.3),
    ]


def test_spike_shorter_than_bounce_time_is_not_a_press():
    d = Debouncer(BOUNCE)
    assert feed(d, [(1.0, True), (1.004, False)], settle_at=2.0) == []
    assert d.pressed is False
    assert d.edges == 2


def test_press_right_after_a_spike_is_dated_at_the_spike():
    # The spike and the press are one burst: the contact was already closing.
    assert feed(Debouncer(BOUNCE), [(1.0, True), (1.004, False), (1.02, True)], 2.0) == [
        Transition(True, 1.0)
    ]


def test_two_presses_further_apart_than_bounce_time_are_two_presses():
    edges = [(1.0, True), (1.1, False), (1.2, True), (1.3, False)]
    assert feed(Debouncer(BOUNCE), edges, 2.0) == [
        Transition(True, 1.0),
        Transition(False, 1.1),
        Transition(True, 1.2),
        Transition(False, 1.3),
    ]


def test_repeated_level_without_an_edge_between_is_ignored():
    d = Debouncer(BOUNCE)
    assert feed(d, [(1.0, True), (1.5, True)], 2.0) == [Transition(True, 1.0)]
    assert d.edges == 1


def test_zero_bounce_time_confirms_each_edge_at_once():
    d = Debouncer(0)
    assert d.edge(True, 1.0) == [Transition(True, 1.0)]
    assert d.edge(False, 1.001) == [Transition(False, 1.001)]


def test_starting_pressed_reports_only_the_release():
    d = Debouncer(BOUNCE, pressed=True, at=0.0)
    assert feed(d, [(40.0, False)], 41.0) == [Transition(False, 40.0)]


def test_negative_bounce_time_is_refused():
    with pytest.raises(ValueError, match="bounce_s must be >= 0"):
        Debouncer(-0.01)
