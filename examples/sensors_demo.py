"""Restroom check-ins and smiley kiosks without a Raspberry Pi: gpiozero's MockFactory is the GPIO header.

    python examples/sensors_demo.py

It loads ``examples/station.toml`` and plays an early morning at the station on a simulated clock:
the pins are driven as fingers and bouncing contacts would drive them, the service ticks once a second,
and every event is printed as the outbox would receive it. Nothing here sleeps: 90 minutes take well
under a second.
"""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from gpiozero.pins.mock import MockFactory

from edge.config import load_station_config
from edge.events import Draft
from edge.sensors import build_sensors

EXAMPLES = Path(__file__).resolve().parent


class SimulatedClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class PrintingSink:
    """Stands in for the outbox: prints each draft in local time."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    def emit(self, draft: Draft) -> None:
        when = datetime.fromtimestamp(draft.at, self.tz).strftime("%H:%M:%S")
        fields = " ".join(
            f"{k}={_short(v)}" for k, v in draft.fields.items() if v is not None and k != "message"
        )
        print(f"{when}  {draft.kind:<16} {fields}")


def _short(value: object) -> str:
    return f"{value:.0f}" if isinstance(value, float) else str(value)


def main() -> None:
    config = load_station_config(EXAMPLES / "station.toml")
    tz = ZoneInfo(config.station.timezone)
    start = datetime(2026, 11, 23, 6, 0, tzinfo=tz).timestamp()
    factory, clock = MockFactory(), SimulatedClock(start)
    sensors = build_sensors(config, PrintingSink(tz), pin_factory=factory, clock=clock)

    def wait_until(hh_mm_ss: str) -> None:
        """The service ticks once a second until the given local time."""
        h, m, s = map(int, hh_mm_ss.split(":"))
        until = datetime(2026, 11, 23, h, m, s, tzinfo=tz).timestamp()
        while clock.now + 1 <= until:
            clock.now += 1
            sensors.tick()
        clock.now = until

    def press(pin: int, hold: float = 0.2, bounces: int = 3) -> None:
        """A finger on a button to ground: pressed = low; the contact bounces for a few ms each way."""
        contact = factory.pin(pin)
        contact.drive_low()
        for _ in range(bounces):
            clock.now += 0.002
            contact.drive_high()
            clock.now += 0.002
            contact.drive_low()
        clock.now += hold
        contact.drive_high()
        for _ in range(bounces):
            clock.now += 0.002
            contact.drive_low()
            clock.now += 0.002
            contact.drive_high()

    ladies, gents = config.restrooms
    restroom_exit, shop = config.kiosks

    wait_until("06:05:00")
    press(ladies.button_pin)  # cleaned
    wait_until("06:07:00")
    press(ladies.button_pin)  # pressed again: kept, flagged too_soon
    wait_until("06:20:00")
    press(restroom_exit.buttons[0])  # unhappiest face ...
    wait_until("06:20:02")
    press(restroom_exit.reasons[0].pin)  # ... because of cleanliness
    wait_until("06:30:00")
    for _ in range(8):  # a child hammers the happiest face: one rating, and one burst record of the other seven
        press(shop.buttons[-1], hold=0.1, bounces=1)
        clock.now += 0.3
    wait_until("07:10:00")  # Gents were never checked in, Ladies are due at 07:05
    print(f"07:10:00  {'LEDs':<16} {sensors.outputs()}")
    press(ladies.button_pin)  # clears the Ladies alert
    wait_until("07:30:00")
    factory.pin(shop.buttons[0]).drive_low()  # a button jammed for 15 s: no rating, a stuck press and its alert
    wait_until("07:30:15")
    factory.pin(shop.buttons[0]).drive_high()
    wait_until("07:31:00")
    print(f"07:31:00  {'LEDs':<16} {sensors.outputs()}")
    print(f"07:31:00  {'stats':<16} {sensors.stats()}")
    sensors.close()


if __name__ == "__main__":
    main()
