"""What the LEDs and buzzers should show, decided from state and drafts. Pure: the gpio adapter renders it.

Restroom LED: steady = checked in within the interval, blinking = overdue. Restroom buzzer: one chirp
confirms a check-in, two short ones say it was kept but flagged (pressed too soon / in a burst), three
beeps when the restroom becomes overdue. Kiosk thank-you LED: lit for ``thank_you_s`` after a counted
rating, so a filtered press visibly does not count.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from edge.events import Draft
from edge.sensors.restroom import OVERDUE
from forecourt.protocol import AlertBody, CleaningBody


@dataclass(frozen=True)
class Steady:
    on: bool


@dataclass(frozen=True)
class Blink:
    on_s: float
    off_s: float


Pattern = Steady | Blink


@dataclass(frozen=True)
class Beep:
    count: int
    on_s: float
    off_s: float


OFF = Steady(False)
ON = Steady(True)
OVERDUE_BLINK = Blink(0.5, 0.5)
CHECK_IN_CHIRP = Beep(1, 0.08, 0.08)
FLAGGED_CHIRP = Beep(2, 0.05, 0.08)
OVERDUE_BEEPS = Beep(3, 0.2, 0.2)


def restroom_led(overdue: bool) -> Pattern:
    return OVERDUE_BLINK if overdue else ON


def thank_you_led(lit_until: float | None, now: float) -> Pattern:
    return ON if lit_until is not None and now < lit_until else OFF


def restroom_beep(drafts: Iterable[Draft]) -> Beep | None:
    """The one beep to play for a batch of a restroom's drafts: the newest event wins."""
    beep = None
    for draft in drafts:
        body = draft.body
        if isinstance(body, CleaningBody):
            beep = FLAGGED_CHIRP if body.flag else CHECK_IN_CHIRP
        elif isinstance(body, AlertBody) and body.alert == OVERDUE and body.state == "open":
            beep = OVERDUE_BEEPS
    return beep
