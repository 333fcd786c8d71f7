"""Every kind of draft the sensors make becomes a valid protocol v1 message once the outbox stamps it."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from edge.config import KioskConfig, RestroomConfig
from edge.events import Draft
from edge.sensors.hours import ActiveHours
from edge.sensors.kiosk import Kiosk
from edge.sensors.restroom import RestroomTimer
from forecourt.protocol import EVENT_KINDS, decode, encode, format_epoch, new_id

T0 = 1_800_000_000.0


def restroom_drafts() -> list[Draft]:
    config = RestroomConfig(id="ladies", name="Ladies", button_pin=5, interval_min=60)
    room = RestroomTimer(config, ActiveHours.parse("06:00-22:00", ZoneInfo("Europe/Oslo")), started_at=T0)
    drafts = room.check_in(T0)  # first: since_last_s is null
    drafts += room.check_in(T0 + 60)  # flagged too_soon
    drafts += room.check_in(T0 + 600)  # flagged catch_up
    drafts += room.tick(T0 + 86_400)  # overdue
    drafts += room.check_in(T0 + 90_000)  # clears
    return drafts


def kiosk_drafts() -> list[Draft]:
    config = KioskConfig(
        id="exit", location="restroom", scale=3, buttons=[1, 2, 3], reasons=[{"reason": "staff", "pin": 4}]
    )
    kiosk = Kiosk(config)
    drafts = kiosk.press(1, T0) + kiosk.release(1, T0 + 0.2)
    drafts += kiosk.press("staff", T0 + 1) + kiosk.release("staff", T0 + 1.2)  # low score with a reason
    drafts += kiosk.press(3, T0 + 10) + kiosk.tick(T0 + 21) + kiosk.release(3, T0 + 25)  # stuck
    drafts += kiosk.press(2, T0 + 30) + kiosk.press(3, T0 + 30.004)  # a palm across two faces: flagged
    drafts += kiosk.release(2, T0 + 30.2) + kiosk.release(3, T0 + 30.2)
    drafts += kiosk.press(3, T0 + 31) + kiosk.release(3, T0 + 31.1) + kiosk.tick(T0 + 40)  # a burst
    return drafts


ALL = restroom_drafts() + kiosk_drafts()


def stamp(draft: Draft, seq: int) -> dict:
    """What the outbox adds to a draft's fields."""
    return dict(draft.fields) | {
        "id": new_id(),
        "seq": seq,
        "station": "s1",
        "ts": format_epoch(draft.at),
        "kind": draft.kind,
    }


def test_the_drafts_cover_every_variant():
    def variant(d: Draft) -> tuple:
        """Kind, alert state, flag (a filtered record's reason), whether a rating has a reason."""
        f = d.fields
        why = f.get("reason") if d.kind == "filtered_presses" else f.get("flag")
        return d.kind, f.get("state"), why, d.kind == "rating" and f["reason"] is not None

    variants = {variant(d) for d in ALL}
    assert variants == {
        ("cleaning", None, None, False),
        ("cleaning", None, "too_soon", False),
        ("cleaning", None, "catch_up", False),
        ("alert", "open", None, False),
        ("alert", "cleared", None, False),
        ("rating", None, None, True),
        ("rating", None, "simultaneous", False),
        ("filtered_presses", None, "stuck", False),
        ("filtered_presses", None, "simultaneous", False),
        ("filtered_presses", None, "burst", False),
    }
    assert {d.fields["alert"] for d in ALL if d.kind == "alert"} == {"restroom_overdue", "kiosk_button_stuck"}


@pytest.mark.parametrize(
    ("seq", "draft"), list(enumerate(ALL, start=1)), ids=lambda x: getattr(x, "kind", str(x))
)
def test_each_draft_is_a_valid_strict_protocol_message(seq, draft):
    model = EVENT_KINDS[draft.kind]
    fields = set(model.model_fields) - {"v", "id", "seq", "station", "ts", "kind"}
    assert set(draft.fields) == fields  # exactly the kind's protocol fields, no more, no fewer
    message = model.model_validate(stamp(draft, seq))
    topic, payload = encode(message)
    assert decode(topic, payload, now=datetime.fromtimestamp(T0 + 100_000, UTC)) == message
