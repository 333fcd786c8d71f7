"""Kiosk logic: response interval, reason buttons after low scores, stuck buttons, counters."""

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


def rating(offset: float, score: int, reason: str | None = None, scale: int = 4) -> Draft:
    fields = {"kiosk": "exit", "location": "restroom", "score": score, "scale": scale, "reason": reason}
    return draft("rating", T0 + offset, fields)


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


def test_high_score_is_a_rating_at_once():
    assert run(kiosk(), click(0, 4)) == [rating(0, 4)]


def test_presses_inside_the_response_interval_are_filtered_and_counted():
    k = kiosk(response_interval_s=4)
    drafts = run(k, click(0, 4) + click(1, 3) + click(3.99, 4) + click(4.0, 3))
    assert drafts == [rating(0, 4), rating(4.0, 3)]
    assert k.filtered == 2
    assert k.ratings == 2


def test_response_interval_is_measured_from_the_counted_press_not_extended_by_filtered_ones():
    k = kiosk(response_interval_s=4)
    script = [item for s in range(0, 12) for item in click(s, 4)]  # a child: one press a second
    assert run(k, script) == [rating(0, 4), rating(4, 4), rating(8, 4)]
    assert k.filtered == 9


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


def test_held_button_opens_one_alert_after_stuck_after_s_and_clears_on_release():
    k = kiosk(stuck_after_s=10)
    drafts = run(
        k, [(0, "press", 4), (9.9, "tick", 0), (10.5, "tick", 0), (20, "tick", 0), (30, "release", 4)]
    )
    assert drafts == [
        rating(0, 4),
        stuck("open", 10, 10.5, "exit: score 4 button (pin 10) held for more than 10 s"),
        stuck("cleared", 30, 30.0, "exit: score 4 button (pin 10) released after 30 s"),
    ]
    assert k.stuck == []


def test_stuck_button_blocks_nothing_else_and_one_alert_covers_two_stuck_buttons():
    k = kiosk(stuck_after_s=10)
    script = [(0, "press", 1), (0.5, "press", "supplies"), (11, "tick", 0)]
    script += click(12, 4) + [(13, "release", 1), (14, "release", "supplies")]
    drafts = run(k, script)
    assert [(d.kind, d.fields.get("state"), d.fields.get("score"), d.at - T0) for d in drafts] == [
        ("rating", None, 1, 0),  # the 0.5 s reason arrived while score 1 was held
        ("alert", "open", None, 10),
        ("rating", None, 4, 12),
        ("alert", "cleared", None, 14),
    ]
    assert drafts[0].fields["reason"] == "supplies"


def test_button_down_at_start_up_is_watched_but_never_a_rating():
    k = kiosk(stuck_after_s=10)
    k.held_at_start(2, T0)
    assert k.tick(T0 + 10)[0].fields["state"] == "open"
    assert k.stuck == [2]
    assert k.release(2, T0 + 12)[0].fields["state"] == "cleared"
    assert k.ratings == 0


def test_thank_you_lights_only_for_counted_ratings():
    k = kiosk(thank_you_s=2, response_interval_s=4)
    k.press(4, T0)
    k.press(4, T0 + 3)  # filtered
    assert k.thank_you_until == T0 + 2


@pytest.mark.parametrize(
    ("button", "message"), [(5, "score 5 is outside 1..4"), ("price", "no reason button 'price'")]
)
def test_unknown_button_is_a_clear_error(button, message):
    with pytest.raises(ValueError, match=message):
        kiosk().press(button, T0)


def test_release_confirmed_just_after_the_stuck_alert_opened_is_not_dated_before_it():
    k = kiosk(stuck_after_s=10)
    drafts = run(k, [(0, "press", 4), (10, "tick", 0), (9.99, "release", 4)])
    assert [(d.fields.get("state"), d.at - T0) for d in drafts] == [(None, 0), ("open", 10), ("cleared", 10)]
