"""A satisfaction kiosk: smiley presses -> ratings, with a response interval, reasons and stuck buttons.

Pure: debounced presses and releases come in with their times, drafts come out.

- A score press counts unless it falls within ``response_interval_s`` of the last counted one (measured
  from that press, not extended by filtered ones); filtered presses are counted in :attr:`Kiosk.filtered`
  so a child hammering a button neither skews the index nor vanishes without trace.
- A low score (<= ``low_scores``) on a kiosk with reason buttons is held for ``reason_window_s``: the
  first reason press within it is attached, and one ``rating`` draft is emitted when the reason arrives,
  the window ends, or the next rating is counted. Reasons at other times are counted as ignored.
- A button down for ``stuck_after_s`` (a held finger or a shorted wire) opens one
  ``kiosk_button_stuck`` alert per kiosk, cleared when no button is stuck any more. A stuck button
  produces nothing until released; a button already down at start-up never becomes a rating.
"""

from dataclasses import dataclass

from edge.config import KioskConfig
from edge.events import Draft
from forecourt.protocol import AlertBody, RatingBody, StationAlert

STUCK = StationAlert.KIOSK_BUTTON_STUCK

Button = int | str  # a score 1..scale, or a reason name


@dataclass(frozen=True)
class _Held:
    score: int
    at: float


class Kiosk:
    def __init__(self, config: KioskConfig) -> None:
        self.config = config
        self.reasons = {r.reason: r.pin for r in config.reasons}
        self.filtered = 0  # score presses inside the response interval
        self.ignored_reasons = 0  # reason presses with no low score waiting for one
        self.ratings = 0
        self.thank_you_until: float | None = None
        self._last_counted: float | None = None
        self._held: _Held | None = None
        self._down: dict[Button, float] = {}  # button -> pressed since
        self._stuck: set[Button] = set()
        self._opened_at = 0.0  # when the stuck alert last opened

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def stuck(self) -> list[Button]:
        return sorted(self._stuck, key=str)

    def press(self, button: Button, at: float) -> list[Draft]:
        self._check(button)
        drafts = self.tick(at)
        self._down[button] = at
        if isinstance(button, str):
            return drafts + self._reason(button, at)
        if self._last_counted is not None and 0 <= at - self._last_counted < self.config.response_interval_s:
            self.filtered += 1
            return drafts
        self._last_counted = at
        self.thank_you_until = at + self.config.thank_you_s
        drafts += self._release_held()
        if self.reasons and button <= self.config.low_scores:
            self._held = _Held(button, at)
            return drafts
        return drafts + [self._rating(button, at, None)]

    def release(self, button: Button, at: float) -> list[Draft]:
        self._check(button)
        drafts = self.tick(at)
        since = self._down.pop(button, None)
        if button in self._stuck:
            self._stuck.discard(button)
            if not self._stuck:
                held_s = 0.0 if since is None else max(0.0, at - since)
                message = f"{self.id}: {self._label(button)} released after {held_s:.0f} s"
                # A release confirmed after the alert opened may predate it by a few ms of debounce.
                drafts.append(self._alert("cleared", max(at, self._opened_at), held_s, message))
        return drafts

    def held_at_start(self, button: Button, at: float) -> None:
        """A button already down when the service starts: watched for stuck, never a rating."""
        self._check(button)
        self._down[button] = at

    def tick(self, now: float) -> list[Draft]:
        drafts = []
        if self._held is not None and now - self._held.at > self.config.reason_window_s:
            drafts += self._release_held()
        for button, since in sorted(self._down.items(), key=lambda item: item[1]):
            if button not in self._stuck and now - since >= self.config.stuck_after_s:
                self._stuck.add(button)
                if len(self._stuck) == 1:
                    message = (
                        f"{self.id}: {self._label(button)} held for more than {self.config.stuck_after_s:g} s"
                    )
                    self._opened_at = since + self.config.stuck_after_s
                    drafts.append(self._alert("open", self._opened_at, now - since, message))
        return drafts

    def _reason(self, reason: str, at: float) -> list[Draft]:
        held = self._held
        if held is None or at - held.at > self.config.reason_window_s:
            self.ignored_reasons += 1
            return []
        self._held = None
        return [self._rating(held.score, held.at, reason)]

    def _release_held(self) -> list[Draft]:
        held, self._held = self._held, None
        return [] if held is None else [self._rating(held.score, held.at, None)]

    def _rating(self, score: int, at: float, reason: str | None) -> Draft:
        self.ratings += 1
        return Draft(at, RatingBody(
            kiosk=self.id, location=self.config.location, score=score, scale=self.config.scale, reason=reason
        ))

    def _alert(self, state: str, at: float, value: float, message: str) -> Draft:
        return Draft(at, AlertBody(alert=STUCK, state=state, subject=self.id, message=message, value=value))

    def _label(self, button: Button) -> str:
        if isinstance(button, str):
            return f"reason button {button!r} (pin {self.reasons[button]})"
        return f"score {button} button (pin {self.config.buttons[button - 1]})"

    def _check(self, button: Button) -> None:
        if isinstance(button, str):
            if button not in self.reasons:
                raise ValueError(f"kiosk {self.id!r} has no reason button {button!r}")
        elif not 1 <= button <= self.config.scale:
            raise ValueError(f"kiosk {self.id!r}: score {button} is outside 1..{self.config.scale}")
