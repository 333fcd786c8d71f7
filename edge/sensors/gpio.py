"""The thin gpiozero adapter: raw button edges stamped with the injected clock; LED/buzzer rendering.

Every device gets the caller's ``pin_factory`` (``None`` = gpiozero's default, so
``GPIOZERO_PIN_FACTORY=mock`` or ``lgpio`` behave as users expect); the process-wide
``Device.pin_factory`` is never touched, so several simulated stations can share one process.
"""

from collections.abc import Callable

from gpiozero import LED, Buzzer, DigitalInputDevice
from gpiozero.pins import Factory

from edge.sensors.indicators import Beep, Blink, Pattern, Steady

Clock = Callable[[], float]
EdgeHandler = Callable[[bool, float], None]


class Contact:
    """A push button to ground on an internal pull-up: pressed = low.

    A ``DigitalInputDevice``, not a ``Button``: ``Button`` starts a hold-polling thread per button (waking
    every 0.1 s) that we do not need, since holds are timed by the logic on the injected clock. No
    ``bounce_time`` either (see :mod:`edge.sensors.debounce`). With ``MockFactory`` the callbacks run
    synchronously inside ``drive_low``/``drive_high``; on lgpio they come from its callback thread.
    """

    def __init__(
        self, pin: int, on_edge: EdgeHandler, *, clock: Clock, pin_factory: Factory | None = None
    ) -> None:
        self._on_edge = on_edge
        self._clock = clock
        self.device = DigitalInputDevice(pin, pull_up=True, bounce_time=None, pin_factory=pin_factory)
        self.device.when_activated = self._pressed
        self.device.when_deactivated = self._released

    @property
    def is_pressed(self) -> bool:
        return bool(self.device.is_active)

    def _pressed(self) -> None:
        self._on_edge(True, self._clock())

    def _released(self) -> None:
        self._on_edge(False, self._clock())

    def close(self) -> None:
        self.device.when_activated = self.device.when_deactivated = None
        self.device.close()


class Indicator:
    """An LED or buzzer that shows a :class:`Pattern` and plays a :class:`Beep`; touches the pin only on change."""

    def __init__(self, device: LED | Buzzer) -> None:
        self.device = device
        self.pattern: Pattern | None = None

    @classmethod
    def led(cls, pin: int, *, pin_factory: Factory | None = None) -> "Indicator":
        return cls(LED(pin, pin_factory=pin_factory))

    @classmethod
    def buzzer(cls, pin: int, *, pin_factory: Factory | None = None) -> "Indicator":
        return cls(Buzzer(pin, pin_factory=pin_factory))

    def show(self, pattern: Pattern) -> None:
        if pattern == self.pattern:
            return
        self.pattern = pattern
        if isinstance(pattern, Blink):
            self.device.blink(on_time=pattern.on_s, off_time=pattern.off_s, background=True)
        elif isinstance(pattern, Steady) and pattern.on:
            self.device.on()
        else:
            self.device.off()

    def beep(self, beep: Beep) -> None:
        # gpiozero times the beep in its own thread; the pattern is re-applied on the next show().
        self.pattern = None
        self.device.blink(on_time=beep.on_s, off_time=beep.off_s, n=beep.count, background=True)

    def close(self) -> None:
        self.device.close()
