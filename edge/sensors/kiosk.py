"""A satisfaction kiosk: smiley presses -> ratings with reasons, and every other press accounted for.

Pure: debounced presses and releases come in with their times, drafts come out. Every score press ends
up as one ``rating`` or inside one ``filtered_presses`` draft, and :attr:`Kiosk.filtered` counts the
latter for the health message, so nothing a customer or a child does vanishes without trace.

- **One person, one rating.** A score press sooner than ``response_interval_s`` after the previous score
  press, counted or not, is the same person again. A child hammering a button for 30 s gives one rating
  (the first press) and, once the burst is over, one ``burst`` record with the presses it filtered.
  (Measured from the last press, not the counted one: from the counted one, a child pressing twice a
  second made a rating every 4 s, 8 in 30 s.)
- **Only real presses count.** A rating is sent once its press is known to be one: released within
  ``hold_limit_s`` and at least ``simultaneous_s`` after first contact, then dated at first contact. A
  press held longer is a lean, a bag or a wire shorting to ground: filtered as ``held`` when released, or
  as ``stuck`` when it reaches ``stuck_after_s``. Waiting for the release costs a customer's press the
  ~0.2 s they hold it; waiting for nothing more keeps the rating as prompt as it can be.
- **Ambiguous presses are flagged.** Another score button going down within ``simultaneous_s`` of the
  rating's (a palm across two faces): the first one is the score, the rating carries
  ``flag="simultaneous"`` and the others are filtered as ``simultaneous``.
- A low score (<= ``low_scores``) on a kiosk with reason buttons waits up to ``reason_window_s`` from its
  press for the first reason press; one ``rating`` draft is emitted when the reason arrives, the window
  ends, or the next rating is counted. Reasons at other times are counted as ignored.
- A button down for ``stuck_after_s`` (a held finger or a shorted wire) opens one ``kiosk_button_stuck``
  alert per kiosk, cleared when no button is stuck any more. A button already down at start-up is
  watched for stuck, never a press.
"""

from dataclasses import dataclass, field

from edge.config import KioskConfig
from edge.events import Draft
from forecourt.protocol import AlertBody, FilteredPressesBody, PressFilter, RatingBody, StationAlert

STUCK = StationAlert.KIOSK_BUTTON_STUCK
# Epoch floats near 1.7e9 carry ~0.2 us of rounding; without slack "exactly simultaneous_s later" would flip.
_SLACK = 1e-6

Button = int | str  # a score 1..scale, or a reason name


@dataclass
class _Press:
    """A score press not yet known to be a rating: waiting for its release and the simultaneous window."""

    score: int
    at: float
    released: bool = False
    others: list[float] = field(default_factory=list)  # other score buttons down within simultaneous_s
    reason: str | None = None


@dataclass
class _Person:
    """Score presses from one person: each within the response interval of the previous one."""

    last: float  # the latest of their score presses
    filtered: list[float] = field(default_factory=list)  # the presses after their first


@dataclass(frozen=True)
class _AwaitingReason:
    score: int
    at: float
    flag: str | None


class Kiosk:
    def __init__(self, config: KioskConfig) -> None:
        self.config = config
        self.reasons = {r.reason: r.pin for r in config.reasons}
        self.filtered = 0  # score presses that are not ratings, for any reason
        self.ignored_reasons = 0  # reason presses with no low score waiting for one
        self.ratings = 0
        self.thank_you_until: float | None = None
        self._pending: list[_Press] = []
        self._person: _Person | None = None
        self._awaiting: _AwaitingReason | None = None
        self._too_long: dict[int, float] = {}  # score button -> press time, held past the hold limit
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
        first = self._pending[-1] if self._pending else None
        if first is not None and first.score != button and at - first.at < self.config.simultaneous_s - _SLACK:
            first.others.append(at)
        elif self._person is not None and at - self._person.last < self.config.response_interval_s:
            self._person.filtered.append(at)
        else:
            self._person = _Person(at)
            self._pending.append(_Press(button, at))
            return drafts
        self.filtered += 1
        if self._person is not None:  # None only with response_interval_s = 0
            self._person.last = at
        return drafts

    def release(self, button: Button, at: float) -> list[Draft]:
        self._check(button)
        drafts = self.tick(at)  # first: a press released after the hold limit is no rating
        since = self._down.pop(button, None)
        for pending in self._pending:
            if pending.score == button:
                pending.released = True
        drafts += self._decide(at)
        if isinstance(button, int) and (held_since := self._too_long.pop(button, None)) is not None:
            drafts.append(self._filtered(PressFilter.HELD, [held_since]))
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
        drafts = self._decide(now)
        if self._awaiting is not None and now - self._awaiting.at > self.config.reason_window_s:
            drafts += self._release_awaiting()  # before the burst it began, as it is dated
        person = self._person
        if person is not None and now - person.last >= self.config.response_interval_s:
            self._person = None
            if person.filtered:
                drafts.append(self._filtered(PressFilter.BURST, person.filtered))
        for button, since in sorted(self._down.items(), key=lambda item: item[1]):
            if button not in self._stuck and now - since >= self.config.stuck_after_s:
                self._stuck.add(button)
                if isinstance(button, int):
                    drafts += self._stuck_press(button)
                if len(self._stuck) == 1:
                    message = (
                        f"{self.id}: {self._label(button)} held for more than {self.config.stuck_after_s:g} s"
                    )
                    self._opened_at = since + self.config.stuck_after_s
                    drafts.append(self._alert("open", self._opened_at, now - since, message))
        return drafts

    def _decide(self, now: float) -> list[Draft]:
        """Pending presses that are now known: released in time -> rating; held too long -> filtered."""
        drafts: list[Draft] = []
        for pending in list(self._pending):
            if pending.released and now - pending.at >= self.config.simultaneous_s - _SLACK:
                self._pending.remove(pending)
                drafts += self._count(pending, now)
            elif not pending.released and now - pending.at > self.config.hold_limit_s:
                self._pending.remove(pending)
                self.filtered += 1
                self._too_long[pending.score] = pending.at  # its record waits for its release or for stuck
                drafts += self._simultaneous(pending)
        return drafts

    def _count(self, pending: _Press, now: float) -> list[Draft]:
        self.thank_you_until = now + self.config.thank_you_s
        drafts = self._release_awaiting()
        flag = PressFilter.SIMULTANEOUS if pending.others else None
        if self.reasons and pending.score <= self.config.low_scores and pending.reason is None:
            self._awaiting = _AwaitingReason(pending.score, pending.at, flag)
        else:
            drafts.append(self._rating(pending.score, pending.at, pending.reason, flag))
        return drafts + self._simultaneous(pending)

    def _stuck_press(self, button: int) -> list[Draft]:
        """A score press that became stuck is accounted for now, not at a release that may never come."""
        pending = next((p for p in self._pending if p.score == button), None)
        if pending is not None:  # still pending: a hold limit at or above stuck_after_s
            self._pending.remove(pending)
            self.filtered += 1
            return self._simultaneous(pending) + [self._filtered(PressFilter.STUCK, [pending.at])]
        if (since := self._too_long.pop(button, None)) is not None:
            return [self._filtered(PressFilter.STUCK, [since])]
        return []  # down since start-up, or a press already filtered as part of a burst

    def _simultaneous(self, pending: _Press) -> list[Draft]:
        return [self._filtered(PressFilter.SIMULTANEOUS, pending.others)] if pending.others else []

    def _reason(self, reason: str, at: float) -> list[Draft]:
        window, low = self.config.reason_window_s, self.config.low_scores
        pending = self._pending[-1] if self._pending else None
        if pending is not None and pending.score <= low and pending.reason is None and at - pending.at <= window:
            pending.reason = reason  # pressed before the score's release: kept with it
            return []
        awaiting = self._awaiting
        if awaiting is None or at - awaiting.at > window:
            self.ignored_reasons += 1
            return []
        self._awaiting = None
        return [self._rating(awaiting.score, awaiting.at, reason, awaiting.flag)]

    def _release_awaiting(self) -> list[Draft]:
        awaiting, self._awaiting = self._awaiting, None
        return [] if awaiting is None else [self._rating(awaiting.score, awaiting.at, None, awaiting.flag)]

    def _rating(self, score: int, at: float, reason: str | None, flag: str | None) -> Draft:
        self.ratings += 1
        return Draft(at, RatingBody(
            kiosk=self.id, location=self.config.location, score=score, scale=self.config.scale, reason=reason,
            flag=flag,
        ))

    def _filtered(self, reason: PressFilter, presses: list[float]) -> Draft:
        return Draft(presses[0], FilteredPressesBody(
            kiosk=self.id, location=self.config.location, reason=reason, presses=len(presses),
            span_s=round(max(0.0, presses[-1] - presses[0]), 3),
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
