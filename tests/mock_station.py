"""A station on gpiozero's MockFactory with a hand that presses its buttons and a service that ticks.

Time is a fake clock the test advances; gpiozero's mock pins call back synchronously inside
``drive_low``/``drive_high``, so every list of drafts is deterministic.
"""

from gpiozero.pins.mock import MockFactory

from edge.config import StationConfig
from edge.events import Draft, ListSink
from edge.sensors import build_sensors
from tests.drafting import draft

T0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC
KIOSK = {
    "id": "exit",
    "location": "restroom",
    "scale": 5,
    "buttons": [17, 27, 22, 10, 9],
    "thank_you_led_pin": 12,
    "reasons": [{"reason": "cleanliness", "pin": 11}],
    "response_interval_s": 4,
    "reason_window_s": 6,
    "stuck_after_s": 10,
}
ROOM = {"id": "ladies", "name": "Ladies", "button_pin": 5, "led_pin": 6, "buzzer_pin": 13, "interval_min": 60}
SCORE_PIN = dict(enumerate(KIOSK["buttons"], start=1))


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Station:
    """A station on its own MockFactory, with a hand that presses its buttons and a service that ticks."""

    def __init__(self, config: dict, factory: MockFactory | None = None, tick_s: float = 0.5) -> None:
        self.factory = factory or MockFactory()
        self.clock = FakeClock()
        self.sink = ListSink()
        self.tick_s = tick_s
        cfg = StationConfig.model_validate({"station": {"id": "s1"}} | config)
        self.sensors = build_sensors(cfg, self.sink, pin_factory=self.factory, clock=self.clock)
        self._next_tick = self.clock.now + tick_s

    def run_until(self, when: float) -> None:
        """Let the service tick every tick_s up to ``when`` (bounded: a few ticks per simulated second)."""
        while self._next_tick <= when:
            self.clock.now = self._next_tick
            self.sensors.tick()
            self._next_tick += self.tick_s
        self.clock.now = max(self.clock.now, when)

    def press(self, pin: int, at: float, hold: float = 0.15, bounces: int = 0) -> None:
        """Press for ``hold`` s; each bounce is a 2 ms open + 2 ms close, at press and at release."""
        mock = self.factory.pin(pin)
        self.run_until(T0 + at)
        mock.drive_low()
        self._bounce(mock, bounces, mock.drive_high, mock.drive_low)
        self.run_until(T0 + at + hold)
        mock.drive_high()
        self._bounce(mock, bounces, mock.drive_low, mock.drive_high)

    def _bounce(self, mock, bounces, away, back) -> None:
        for _ in range(bounces):
            self.clock.now += 0.002
            away()
            self.clock.now += 0.002
            back()


def rating(at: float, score: int, reason: str | None = None, flag: str | None = None) -> Draft:
    fields = {"kiosk": "exit", "location": "restroom", "score": score, "scale": 5, "reason": reason, "flag": flag}
    return draft("rating", T0 + at, fields)


def filtered(at: float, reason: str, presses: int = 1, span: float = 0.0) -> Draft:
    fields = {"kiosk": "exit", "location": "restroom", "reason": reason, "presses": presses, "span_s": span}
    return draft("filtered_presses", T0 + at, fields)


def stuck(state: str, at: float, value: float, message: str) -> Draft:
    fields = {"alert": "kiosk_button_stuck", "state": state, "subject": "exit", "message": message, "value": value}
    return draft("alert", T0 + at, fields)


def cleaning(at: float, flag: str | None, since: float | None) -> Draft:
    return draft("cleaning", T0 + at, {"restroom": "ladies", "flag": flag, "since_last_s": since,
                                       "active_since_last_s": since})  # open all day
