"""Kiosk logic: one person one rating, held and simultaneous presses, reasons, stuck buttons, counters."""

import random

import pytest

from edge.config import KioskConfig
from edge.events import Draft
from edge.sensors.kiosk import Kiosk
from tests.drafting import draft

T0 = 1_800_000_000.0


def kiosk(**overrides) -> Kiosk:
    config = {
        "id": "exit",
        "location": "restroom",
        "scale": 4,
        "buttons": [17, 27, 22, 10],
        "reasons": [{"reason": "cleanliness", "pin": 11}, {"reason": "supplies", "pin": 0}],
    }
    return Kiosk(KioskConfig(**config | overrides))


def rating(offset: float, score: int, reason: str | None = None, scale: int = 4, flag: str | None = None) -> Draft:
    fields = {"kiosk": "exit", "location": "restroom", "score": score, "scale": scale, "reason": reason, "flag": flag}
    return draft("rating", T0 + offset, fields)


def filtered(offset: float, reason: str, presses: int = 1, span: float = 0.0) -> Draft:
    fields = {"kiosk": "exit", "location": "restroom", "reason": reason, "presses": presses, "span_s": span}
    return draft("filtered_presses", T0 + offset, fields)


def stuck(state: str, offset: float, value: float, message: str) -> Draft:
    fields = {
        "alert": "kiosk_button_stuck",
        "state": state,
        "subject": "exit",
        "message": message,
        "value": value,
    }
    return draft("alert", T0 + offset, fields)


def run(k: Kiosk, script: list[tuple[float, str, int | str]]) -> list[Draft]:
    """Press/release/tick events at offsets from T0; returns every draft in order."""
    out: list[Draft] = []
    for offset, action, button in script:
        now = T0 + offset
        out += (
            {"press": k.press, "release": k.release}[action](button, now) if action != "tick" else k.tick(now)
        )
    return out


def click(offset: float, button: int | str, hold: float = 0.15) -> list[tuple[float, str, int | str]]:
    return [(offset, "press", button), (offset + hold, "release", button)]


def test_high_score_is_a_rating_once_released_dated_at_first_contact():
    k = kiosk()
    assert run(k, [(0, "press", 4), (1.0, "tick", 0)]) == []  # down: it may still turn out held
    assert run(k, [(1.5, "release", 4)]) == [rating(0, 4)]


def test_a_release_within_simultaneous_s_waits_for_the_window_then_counts():
    k = kiosk(simultaneous_s=0.1)
    assert run(k, click(0, 4, hold=0.05)) == []
    assert k.tick(T0 + 0.1) == [rating(0, 4)]


def test_presses_sooner_than_the_response_interval_after_the_previous_one_are_the_same_person():
    k = kiosk(response_interval_s=4)
    drafts = run(k, click(0, 4) + click(1, 3) + click(4.99, 4) + [(8.98, "tick", 0), (8.99, "tick", 0)])
    assert drafts == [rating(0, 4), filtered(1, "burst", 2, 3.99)]  # 4.99 is 3.99 after the press at 1
    assert run(k, click(9.0, 3)) == [rating(9.0, 3)]  # 4.01 s after the last press: someone new
    assert (k.filtered, k.ratings) == (2, 2)


@pytest.mark.parametrize(("presses", "span_s"), [(20, 8.0), (60, 30.0)])
def test_a_child_hammering_a_button_is_one_rating_and_one_burst_record(presses, span_s):
    k = kiosk(response_interval_s=4)
    gap = span_s / presses
    script = [item for i in range(presses) for item in click(i * gap, 4, hold=0.08)]
    drafts = run(k, script + [(span_s + 5, "tick", 0)])
    assert drafts == [rating(0, 4), filtered(gap, "burst", presses - 1, round((presses - 1) * gap - gap, 3))]
    assert (k.ratings, k.filtered) == (1, presses - 1)


def test_a_press_held_past_the_hold_limit_is_no_rating_and_is_filtered_at_its_release():
    k = kiosk(hold_limit_s=3, stuck_after_s=10)
    assert run(k, [(0, "press", 4), (3.0, "tick", 0)]) == []  # exactly the limit: may still count
    assert run(k, [(3.01, "tick", 0)]) == []
    assert run(k, [(5, "release", 4)]) == [filtered(0, "held")]
    assert (k.ratings, k.filtered) == (0, 1)
    assert run(k, click(5.5, 3)) == [rating(5.5, 3)]  # 5.5 s after the held press: someone new


def test_a_release_at_the_hold_limit_counts():
    assert run(kiosk(hold_limit_s=3), click(0, 4, hold=3.0)) == [rating(0, 4)]


def test_two_score_buttons_within_simultaneous_s_flag_the_first_and_filter_the_other():
    k = kiosk(simultaneous_s=0.1)
    drafts = run(k, [(0, "press", 3), (0.004, "press", 4), (0.15, "release", 3), (0.16, "release", 4)])
    assert drafts == [rating(0, 3, flag="simultaneous"), filtered(0.004, "simultaneous")]
    assert (k.ratings, k.filtered) == (1, 1)


def test_a_second_button_after_simultaneous_s_is_the_same_person_not_ambiguous():
    k = kiosk(simultaneous_s=0.1)
    drafts = run(k, click(0, 3) + click(0.3, 4) + [(5, "tick", 0)])
    assert drafts == [rating(0, 3), filtered(0.3, "burst")]


def test_simultaneous_presses_are_flagged_even_without_a_response_interval():
    k = kiosk(response_interval_s=0, simultaneous_s=0.1)
    drafts = run(k, [(0, "press", 3), (0.05, "press", 4), (0.2, "release", 3), (0.2, "release", 4)])
    assert drafts == [rating(0, 3, flag="simultaneous"), filtered(0.05, "simultaneous")]
    assert run(k, click(1, 4) + click(2, 4)) == [rating(1, 4), rating(2, 4)]


def test_every_score_press_is_one_rating_or_inside_one_filtered_record():
    rng = random.Random(21)
    k = kiosk(response_interval_s=4, hold_limit_s=3, stuck_after_s=10)
    script, t, presses, free_at = [], 0.0, 0, {}
    for _ in range(300):  # taps, double taps, palms across two faces, leans, jams
        t += rng.choice([0.002, 0.05, 0.3, 1.0, 3.0, 6.0])
        button, hold = rng.randint(1, 4), rng.choice([0.08, 0.2, 2.0, 4.0, 12.0])
        if free_at.get(button, -1.0) > t:
            continue  # that button is still down
        script += [(t, "press", button), (t + hold, "release", button)]
        free_at[button] = t + hold
        presses += 1
    drafts = run(k, sorted(script, key=lambda item: item[0]) + [(t + 60, "tick", 0)])
    ratings = [d for d in drafts if d.kind == "rating"]
    covered = sum(d.fields["presses"] for d in drafts if d.kind == "filtered_presses")
    assert len(ratings) + covered == presses
    assert (k.ratings, k.filtered) == (len(ratings), covered)
    assert {d.fields["reason"] for d in drafts if d.kind == "filtered_presses"} == {
        "burst", "held", "stuck", "simultaneous"
    }


def test_low_score_is_held_and_takes_the_first_reason_within_the_window():
    k = kiosk(reason_window_s=6)
    drafts = run(k, click(0, 1) + [(2, "tick", 0)] + click(3, "cleanliness") + click(4, "supplies"))
    assert drafts == [rating(0, 1, "cleanliness")]
    assert k.ignored_reasons == 1


def test_low_score_without_reason_is_emitted_when_the_window_ends():
    k = kiosk(reason_window_s=6)
    assert run(k, click(0, 2) + [(6.0, "tick", 0)]) == []
    assert k.tick(T0 + 6.2) == [rating(0, 2)]
    assert run(k, click(7, "cleanliness")) == []
    assert k.ignored_reasons == 1


def test_next_counted_rating_releases_a_held_low_score_first():
    drafts = run(kiosk(reason_window_s=6, response_interval_s=4), click(0, 1) + click(5, 3))
    assert drafts == [rating(0, 1), rating(5, 3)]


def test_reason_after_a_high_score_is_ignored():
    k = kiosk()
    assert run(k, click(0, 3) + click(1, "supplies")) == [rating(0, 3)]
    assert k.ignored_reasons == 1


def test_low_scores_threshold_is_configurable():
    drafts = run(kiosk(low_scores=1), click(0, 2) + click(1, "cleanliness"))
    assert drafts == [rating(0, 2)]


def test_kiosk_without_reason_buttons_never_holds_a_score():
    assert run(kiosk(reasons=[]), click(0, 1)) == [rating(0, 1)]


def test_held_button_is_no_rating_opens_one_alert_after_stuck_after_s_and_clears_on_release():
    k = kiosk(stuck_after_s=10)
    drafts = run(
        k, [(0, "press", 4), (9.9, "tick", 0), (10.5, "tick", 0), (20, "tick", 0), (30, "release", 4)]
    )
    assert drafts == [
        filtered(0, "stuck"),
        stuck("open", 10, 10.5, "exit: score 4 button (pin 10) held for more than 10 s"),
        stuck("cleared", 30, 30.0, "exit: score 4 button (pin 10) released after 30 s"),
    ]
    assert k.stuck == []
    assert (k.ratings, k.filtered) == (0, 1)


def test_stuck_button_blocks_nothing_else_and_one_alert_covers_two_stuck_buttons():
    k = kiosk(stuck_after_s=10)
    script = [(0, "press", 1), (0.5, "press", "supplies"), (11, "tick", 0)]
    script += click(12, 4) + [(13, "release", 1), (14, "release", "supplies")]
    assert run(k, script) == [
        filtered(0, "stuck"),  # the 0.5 s reason went with the score 1 press: no rating, no reason
        stuck("open", 10, 11.0, "exit: score 1 button (pin 17) held for more than 10 s"),
        rating(12, 4),
        stuck("cleared", 14, 13.5, "exit: reason button 'supplies' (pin 0) released after 14 s"),
    ]


def test_a_hold_limit_above_stuck_after_s_filters_the_press_as_stuck():
    k = kiosk(hold_limit_s=20, stuck_after_s=10)
    drafts = run(k, [(0, "press", 4), (10, "tick", 0), (12, "release", 4)])
    assert [(d.kind, d.fields.get("reason"), d.fields.get("state")) for d in drafts] == [
        ("filtered_presses", "stuck", None), ("alert", None, "open"), ("alert", None, "cleared"),
    ]


def test_button_down_at_start_up_is_watched_but_never_a_rating():
    k = kiosk(stuck_after_s=10)
    k.held_at_start(2, T0)
    assert k.tick(T0 + 10)[0].fields["state"] == "open"
    assert k.stuck == [2]
    assert k.release(2, T0 + 12)[0].fields["state"] == "cleared"
    assert k.ratings == 0


def test_thank_you_lights_only_for_counted_ratings():
    k = kiosk(thank_you_s=2, response_interval_s=4)
    run(k, click(0, 4))
    assert k.thank_you_until == T0 + 0.15 + 2  # lit when the release makes it a rating
    run(k, click(3, 4))  # the same person again
    assert k.thank_you_until == T0 + 2.15


def test_a_reason_pressed_before_the_low_score_is_released_goes_with_it():
    k = kiosk()
    drafts = run(k, [(0, "press", 1), (0.5, "press", "supplies"), (0.6, "release", "supplies"), (0.8, "release", 1)])
    assert drafts == [rating(0, 1, "supplies")]


@pytest.mark.parametrize(
    ("button", "message"), [(5, "score 5 is outside 1..4"), ("price", "no reason button 'price'")]
)
def test_unknown_button_is_a_clear_error(button, message):
    with pytest.raises(ValueError, match=message):
        kiosk().press(button, T0)


def test_release_confirmed_just_after_the_stuck_alert_opened_is_not_dated_before_it():
    k = kiosk(stuck_after_s=10)
    drafts = run(k, [(0, "press", 4), (10, "tick", 0), (9.99, "release", 4)])
    assert [(d.kind, d.fields.get("state"), d.at - T0) for d in drafts] == [
        ("filtered_presses", None, 0), ("alert", "open", 10), ("alert", "cleared", 10),
    ]
