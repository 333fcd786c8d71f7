"""A restroom's cleaning check-ins: plausibility flags and the overdue clock. Pure: times come in.

- A check-in is a debounced press of the staff button -> one ``cleaning`` draft, always. Presses that
  cannot be real cleanings are kept with a ``flag`` (:class:`~forecourt.protocol.CleaningFlag`) and do not
  reset the clock, strongest reason first: ``burst``, the ``burst_count``-th press within ``burst_window_s``
  (a mashed button); ``too_soon``, sooner than ``min_gap_min`` after the last counted one (no time to
  clean); ``catch_up``, sooner than ``catch_up_min`` (half the interval unless set) after it. The last
  catches the run of check-ins entered at the end of a shift - four 6 minutes apart all counted as
  cleanings before - and, measured from the last *counted* check-in, flags a run however long it is
  while letting a restroom cleaned on schedule count every time.
- The interval runs only within active hours (see :mod:`edge.sensors.hours`). Passing it opens a
  ``restroom_overdue`` alert, dated when it became due; the next counted check-in clears it, with the
  active seconds it was overdue as ``value``.
- Closing time pauses an open alert: it is cleared at the end of active hours and opened again when
  they start, so HQ never counts the hours a closed restroom could not be cleaned as overdue (nor
  raises its own overdue alert over night).
- New rules from HQ (:meth:`RestroomTimer.retune`) keep the last check-in and recompute when it is due.
  A restroom the change makes overdue is overdue from the change, not retroactively (nobody could
  have cleaned by a rule that did not exist yet); one it makes no longer overdue has its alert cleared.
"""

from collections import deque
from dataclasses import dataclass

from edge.config import RestroomConfig
from edge.events import Draft
from edge.sensors.hours import ActiveHours
from forecourt.protocol import AlertBody, CleaningBody, CleaningFlag, StationAlert

OVERDUE = StationAlert.RESTROOM_OVERDUE


@dataclass(frozen=True)
class RestroomStatus:
    restroom: str
    last_check_in: float | None  # last counted (unflagged) check-in
    due_at: float  # when the interval of active hours runs out
    overdue: bool
    overdue_s: float  # active seconds past due_at, 0 when not overdue


class RestroomTimer:
    def __init__(
        self,
        config: RestroomConfig,
        hours: ActiveHours,
        *,
        started_at: float,
        last_check_in: float | None = None,
    ) -> None:
        """``last_check_in`` (e.g. from the outbox) starts the clock; without it the clock starts at start-up."""
        self.config = config
        self.hours = hours
        self.interval_s = config.interval_min * 60
        self.started_at = started_at
        self.last_check_in = last_check_in
        self.due_at = hours.after_active(
            started_at if last_check_in is None else last_check_in, self.interval_s
        )
        self.alert_open = False
        self.opened_at = 0.0  # when the open alert (this episode) started
        self.closed_at = 0.0  # when closing time last paused it
        self.check_ins = 0
        self.flagged = 0
        self._recent: deque[float] = deque()  # every press within the burst window, flagged or not

    @property
    def id(self) -> str:
        return self.config.id

    def check_in(self, at: float) -> list[Draft]:
        """A staff press at ``at``: the overdue alert it may first open, its cleaning, the clearing."""
        drafts = self.tick(at)
        flag = self._flag(at)
        last = self.last_check_in
        since_last = None if last is None else max(0.0, at - last)
        open_since_last = None if last is None else self.hours.active_seconds(last, at)
        drafts.append(Draft(at, CleaningBody(
            restroom=self.id, flag=flag, since_last_s=since_last, active_since_last_s=open_since_last
        )))
        self.check_ins += 1
        if flag is not None:
            self.flagged += 1
            return drafts
        if self.alert_open:
            overdue_s = self.hours.active_seconds(self.due_at, at)
            message = f"{self._name} checked in {_minutes(overdue_s)} overdue"
            # A press confirmed by the debouncer after the alert opened may predate it by a few ms.
            drafts.append(self._alert("cleared", max(at, self.opened_at), overdue_s, message))
            self.alert_open = False
        self.last_check_in = at
        self.due_at = self.hours.after_active(at, self.interval_s)
        return drafts

    def tick(self, now: float) -> list[Draft]:
        """Opens the overdue alert once the interval has run out (dated when it did) and pauses it over
        closing time (cleared at closing, opened again at opening); catches up on ticks it missed."""
        drafts: list[Draft] = []
        while step := self._step(now):
            drafts.append(step)
        return drafts

    def _step(self, now: float) -> Draft | None:
        if self.alert_open:
            span = self.hours.span_at(self.opened_at)
            if span is None or now < span[1]:
                return None
            self.alert_open, self.closed_at = False, span[1]
            overdue_s = self.hours.active_seconds(self.due_at, span[1])
            message = f"{self._name} closed for the day {_minutes(overdue_s)} overdue; the alert resumes at opening"
            return self._alert("cleared", span[1], overdue_s, message)
        if now < self.due_at:
            return None
        opens = self.hours.after_active(max(self.due_at, self.closed_at), 0.0)  # first active instant
        if now < opens:
            return None
        self.alert_open, self.opened_at = True, opens
        since = "since start-up" if self.last_check_in is None else "since the last one"
        message = (
            f"{self._name}: no cleaning check-in for {_minutes(self.interval_s)} of active hours {since}"
        )
        return self._alert("open", opens, self.hours.active_seconds(self.due_at, now), message)

    def retune(self, config: RestroomConfig, hours: ActiveHours, now: float) -> list[Draft]:
        """HQ's new rules from ``now`` on; the drafts it ends with (an open alert cleared, then any ticks due)."""
        drafts = self.tick(now)  # what was due under the old rules happened under them
        hours_changed = hours != self.hours
        overdue_s = self.hours.active_seconds(self.due_at, now)  # by the hours it was overdue in
        self.config, self.hours, self.interval_s = config, hours, config.interval_min * 60
        due_at = hours.after_active(self.started_at if self.last_check_in is None else self.last_check_in, self.interval_s)
        if due_at > now:  # not overdue by the new rules
            if self.alert_open:
                drafts.append(self._retuned(now, overdue_s))
            self.due_at = due_at
        elif self.alert_open and hours_changed:
            # Its episode was dated by the old hours: end it; the next tick opens it again by the new ones.
            drafts.append(self._retuned(now, overdue_s))
            self.closed_at = now
        elif now < self.due_at:  # overdue only because of the change: from the change
            self.due_at = now
        return drafts + self.tick(now)

    def _retuned(self, now: float, overdue_s: float) -> Draft:
        self.alert_open = False
        message = f"{self._name}: cleaning rules changed ({_minutes(self.interval_s)} of {self.config.active_hours}) "
        return self._alert("cleared", max(now, self.opened_at), overdue_s, message + f"after {_minutes(overdue_s)} overdue")

    def status(self, now: float) -> RestroomStatus:
        overdue = now >= self.due_at
        overdue_s = self.hours.active_seconds(self.due_at, now) if overdue else 0.0
        return RestroomStatus(self.id, self.last_check_in, self.due_at, overdue, overdue_s)

    def _flag(self, at: float) -> str | None:
        window = self.config.burst_window_s
        while self._recent and not 0 <= at - self._recent[0] < window:
            self._recent.popleft()
        self._recent.append(at)
        if len(self._recent) >= self.config.burst_count:
            return CleaningFlag.BURST
        if self.last_check_in is None:
            return None
        if at - self.last_check_in < self.config.min_gap_min * 60:
            return CleaningFlag.TOO_SOON
        if at - self.last_check_in < self.config.catch_up_s:
            return CleaningFlag.CATCH_UP
        return None

    def _alert(self, state: str, at: float, value: float, message: str) -> Draft:
        return Draft(at, AlertBody(alert=OVERDUE, state=state, subject=self.id, message=message, value=value))

    @property
    def _name(self) -> str:
        return self.config.name or self.id


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"
