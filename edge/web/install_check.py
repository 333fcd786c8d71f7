"""The install check: every button of the station shown as it is pressed, so a technician can walk the
wiring. While it runs the station's sensors are closed (the service pauses them): test presses are
neither ratings nor cleanings and never reach HQ. Each button lights its own LED while held (a
restroom's LED, a kiosk's thank-you LED), so the LED wiring is checked in the same walk.

Edges come from gpiozero like the sensors' (``Contact``), stamped with the service's clock; there is no
debouncing beyond ignoring a press within ``bounce_s`` of the last, since a bounce here only costs a count.
"""

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from gpiozero.pins import Factory

from edge.config import StationConfig
from edge.sensors.gpio import Contact, Indicator
from edge.sensors.indicators import OFF, ON


@dataclass
class InputSeen:
    path: str  # the config key of its pin, e.g. "kiosks[0].buttons[2]"
    label: str  # what a person calls it
    pin: int
    pressed: bool = False
    presses: int = 0
    last_at: float | None = None


def inputs_of(config: StationConfig) -> list[tuple[str, str, int, str | None]]:
    """(path, label, pin, LED key) of every button, in config order."""
    out = []
    for i, room in enumerate(config.restrooms):
        out.append((f"restrooms[{i}].button_pin", f"Restroom {room.name or room.id}: check-in", room.button_pin,
                    f"restrooms[{i}]"))
    for i, kiosk in enumerate(config.kiosks):
        for j, pin in enumerate(kiosk.buttons):
            out.append((f"kiosks[{i}].buttons[{j}]", f"Kiosk {kiosk.id}: score {j + 1}", pin, f"kiosks[{i}]"))
        for j, reason in enumerate(kiosk.reasons):
            out.append((f"kiosks[{i}].reasons[{j}].pin", f"Kiosk {kiosk.id}: reason {reason.reason}", reason.pin,
                        f"kiosks[{i}]"))
    return out


class InstallCheck:
    def __init__(
        self, config: StationConfig, *, pin_factory: Factory | None, clock: Callable[[], float], ends_at: float,
    ) -> None:
        self.ends_at = ends_at
        self._clock = clock
        self._bounce_s = config.gpio.bounce_ms / 1000
        self._lock = threading.Lock()
        self._seen: dict[str, InputSeen] = {}
        self._led_of: dict[str, str | None] = {}
        self._contacts: list[Contact] = []
        self._leds: dict[str, Indicator] = {}
        try:
            for i, room in enumerate(config.restrooms):
                if room.led_pin is not None:
                    self._leds[f"restrooms[{i}]"] = Indicator.led(room.led_pin, pin_factory=pin_factory)
            for i, kiosk in enumerate(config.kiosks):
                if kiosk.thank_you_led_pin is not None:
                    self._leds[f"kiosks[{i}]"] = Indicator.led(kiosk.thank_you_led_pin, pin_factory=pin_factory)
            for path, label, pin, led in inputs_of(config):
                self._seen[path] = InputSeen(path, label, pin)
                self._led_of[path] = led
                self._contacts.append(Contact(pin, partial(self._edge, path), clock=clock, pin_factory=pin_factory))
                self._seen[path].pressed = self._contacts[-1].is_pressed  # held at start: shown, not counted
        except BaseException:
            self.close()
            raise

    def _edge(self, path: str, pressed: bool, at: float) -> None:
        with self._lock:
            seen = self._seen[path]
            if pressed and not seen.pressed and (seen.last_at is None or at - seen.last_at >= self._bounce_s):
                seen.presses += 1
                seen.last_at = at
            seen.pressed = pressed
            led = self._led_of[path]
            if led in self._leds:
                held = any(s.pressed for p, s in self._seen.items() if self._led_of[p] == led)
                self._leds[led].show(ON if held else OFF)

    def state(self) -> dict[str, Any]:
        with self._lock:
            inputs = [asdict(s) for s in self._seen.values()]
        return {"active": True, "ends_at": self.ends_at, "inputs": inputs,
                "checked": sum(1 for s in inputs if s["presses"]), "total": len(inputs)}

    def close(self) -> None:
        for contact in self._contacts:
            contact.close()
        for led in self._leds.values():
            led.close()
        self._contacts, self._leds = [], {}
