"""One station's restrooms and kiosks wired to gpiozero devices and an event sink.

Edges arrive from gpiozero (synchronously under MockFactory, from lgpio's thread on a Pi) while the
service calls :meth:`Sensors.tick`, so one lock serialises both. Before an edge is fed to its debouncer,
every debouncer is settled at the edge's time, so debounced changes reach the logic in time order even
across buttons. Drafts the sink refuses stay queued in order and are retried on the next tick.
"""

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from threading import RLock
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gpiozero.exc import GPIOZeroError
from gpiozero.pins import Factory

from edge.config import StationConfig
from edge.events import Draft, EventSink
from edge.sensors import indicators
from edge.sensors.debounce import Debouncer, Transition
from edge.sensors.gpio import Clock, Contact, Indicator
from edge.sensors.hours import ActiveHours
from edge.sensors.kiosk import Button, Kiosk
from edge.sensors.restroom import RestroomTimer
from forecourt.errors import ConfigError

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_UNSENT = 10_000  # drafts kept in memory while the sink refuses them


@dataclass
class _Input:
    name: str  # for logs: "restrooms[ladies]" / "kiosks[shop].score 3"
    debouncer: Debouncer
    dispatch: Callable[[Transition], list[Draft]]
    contact: Contact | None = None


@dataclass
class _Room:
    timer: RestroomTimer
    led: Indicator | None
    buzzer: Indicator | None


@dataclass
class _Kiosk:
    logic: Kiosk
    led: Indicator | None


class Sensors:
    def __init__(
        self,
        config: StationConfig,
        sink: EventSink,
        *,
        pin_factory: Factory | None = None,
        clock: Clock = time.time,
        last_check_ins: Mapping[str, float] | None = None,
    ) -> None:
        self._sink = sink
        self._clock = clock
        self._lock = RLock()
        self._unsent: deque[Draft] = deque()
        self._inputs: list[_Input] = []
        self._outputs: list[Indicator] = []
        self._rooms: list[_Room] = []
        self._kiosks: list[_Kiosk] = []
        self._closed = False
        self._sink_failing = False
        self._dropped = 0
        self._bounce_s = config.gpio.bounce_ms / 1000
        self._pin_factory = pin_factory
        self._pin_paths = {
            pin: path for path, pin in config.pins()
        }  # to name the key of a pin gpiozero refuses
        tz = _zone(config.station.timezone)
        self._now = now = clock()
        try:
            for room_config in config.restrooms:
                hours = ActiveHours.parse(room_config.active_hours, tz)
                last = (last_check_ins or {}).get(room_config.id)
                room = _Room(RestroomTimer(room_config, hours, started_at=now, last_check_in=last), None, None)
                room.led = self._indicator(Indicator.led, room_config.led_pin)
                room.buzzer = self._indicator(Indicator.buzzer, room_config.buzzer_pin)
                self._rooms.append(room)
                name = f"restrooms[{room_config.id}]"
                self._add_input(name, room_config.button_pin, partial(self._check_in, room), now)
            for kiosk_config in config.kiosks:
                kiosk = _Kiosk(
                    Kiosk(kiosk_config), self._indicator(Indicator.led, kiosk_config.thank_you_led_pin)
                )
                self._kiosks.append(kiosk)
                buttons: list[tuple[Button, int]] = list(enumerate(kiosk_config.buttons, start=1))
                buttons += [(r.reason, r.pin) for r in kiosk_config.reasons]
                for button, pin in buttons:
                    label = f"score {button}" if isinstance(button, int) else f"reason {button}"
                    dispatch = partial(self._kiosk_button, kiosk.logic, button)
                    held = partial(kiosk.logic.held_at_start, button)
                    self._add_input(f"kiosks[{kiosk_config.id}].{label}", pin, dispatch, now, on_held=held)
            self._render(now)
        except BaseException:
            self.close()
            raise

    # -- the interface the edge service calls -------------------------------------------------------

    def tick(self, now: float | None = None) -> None:
        """Settle debouncers, run timers (overdue, stuck, held reasons), refresh LEDs, retry the sink."""
        with self._lock:
            now = self._clock() if now is None else now
            self._now = now
            drafts = self._settle(now)
            for room in self._rooms:
                drafts += self._beeping(room, room.timer.tick(now))
            for kiosk in self._kiosks:
                drafts += kiosk.logic.tick(now)
            self._emit(drafts)
            self._render(now)

    def retune(self, config: StationConfig, now: float | None = None) -> None:
        """New rules for the restrooms and kiosks (HQ's settings), live: wiring stays, so do the clocks.

        Each restroom keeps its last check-in and alert and is due again by its new interval and hours; a
        kiosk reads its rules at every press, so the next press is judged by the new ones.
        """
        with self._lock:
            now = self._clock() if now is None else now
            self._now = max(self._now, now)
            tz = _zone(config.station.timezone)
            rooms = {room.id: room for room in config.restrooms}
            kiosks = {kiosk.id: kiosk for kiosk in config.kiosks}
            drafts: list[Draft] = []
            for room in self._rooms:
                if (new := rooms.get(room.timer.id)) is not None:
                    hours = ActiveHours.parse(new.active_hours, tz)
                    drafts += self._beeping(room, room.timer.retune(new, hours, now))
            for kiosk in self._kiosks:
                if (rules := kiosks.get(kiosk.logic.id)) is not None:
                    kiosk.logic.config = rules
            self._emit(drafts)
            self._render(now)

    def stats(self) -> dict[str, Any]:
        """Counters for the health message, as of the last tick or edge."""
        with self._lock:
            now = self._now
            overdue = [s for room in self._rooms if (s := room.timer.status(now)).overdue]
            return {
                "filtered_presses": {k.logic.id: k.logic.filtered for k in self._kiosks},
                "ignored_reasons": {k.logic.id: k.logic.ignored_reasons for k in self._kiosks},
                "ratings": {k.logic.id: k.logic.ratings for k in self._kiosks},
                "check_ins": {r.timer.id: r.timer.check_ins for r in self._rooms},
                "flagged_check_ins": {r.timer.id: r.timer.flagged for r in self._rooms},
                "stuck": [{"kiosk": k.logic.id, "button": b} for k in self._kiosks for b in k.logic.stuck],
                "overdue": [{"restroom": s.restroom, "overdue_s": round(s.overdue_s, 1)} for s in overdue],
                "edges": sum(i.debouncer.edges for i in self._inputs),
                "unsent": len(self._unsent),
                "dropped": self._dropped,
            }

    def outputs(self) -> dict[str, str]:
        """What every LED shows right now ("on", "off", "blink"), keyed by its config path; for demos and logs."""
        with self._lock:
            shown = {f"restrooms[{r.timer.id}].led": r.led for r in self._rooms}
            shown |= {f"kiosks[{k.logic.id}].thank_you_led": k.led for k in self._kiosks}
            return {name: _describe(led.pattern) for name, led in shown.items() if led is not None}

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True  # from here on, late edges are ignored
        # Devices are closed outside the lock: a pin driver may wait for its callback thread, which may be
        # waiting for the lock.
        for item in self._inputs:
            if item.contact is not None:
                item.contact.close()
        for output in self._outputs:
            output.close()

    def __enter__(self) -> "Sensors":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- wiring ---------------------------------------------------------------------------------------

    def _add_input(
        self,
        name: str,
        pin: int,
        dispatch: Callable[[Transition], list[Draft]],
        now: float,
        *,
        on_held: Callable[[float], None] | None = None,
    ) -> None:
        item = _Input(name, Debouncer(self._bounce_s, at=now), dispatch)
        self._inputs.append(item)  # before the device exists, so close() can clean up a half-built station
        item.contact = self._claim(
            pin,
            partial(
                Contact, pin, partial(self._edge, item), clock=self._clock, pin_factory=self._pin_factory
            ),
        )
        if item.contact.is_pressed:  # down before we started: a shorted wire or a held button, never a press
            item.debouncer = Debouncer(self._bounce_s, pressed=True, at=now)
            if on_held is not None:
                on_held(now)

    def _indicator(self, make: Callable[..., Indicator], pin: int | None) -> Indicator | None:
        if pin is None:
            return None
        output = self._claim(pin, partial(make, pin, pin_factory=self._pin_factory))
        self._outputs.append(output)
        return output

    def _claim(self, pin: int, make: Callable[[], T]) -> T:
        try:
            return make()
        except GPIOZeroError as err:
            path = self._pin_paths.get(pin, "gpio")
            raise ConfigError(f"{path}: GPIO{pin} cannot be used on this board: {err}") from err

    # -- events ---------------------------------------------------------------------------------------

    def _edge(self, item: _Input, pressed: bool, at: float) -> None:
        try:
            with self._lock:
                if self._closed:
                    return
                self._now = max(self._now, at)
                drafts = self._settle(at, also=(item, item.debouncer.edge(pressed, at)))
                self._emit(drafts)
                self._render(self._now)
        except Exception:  # a callback thread must not die; the event is kept in the queue if it got that far
            log.exception("%s: handling a %s edge failed", item.name, "press" if pressed else "release")

    def _settle(self, now: float, also: tuple[_Input, list[Transition]] | None = None) -> list[Draft]:
        edged, edged_changes = also if also is not None else (None, [])
        changes = [(t, edged) for t in edged_changes]
        changes += [
            (t, item) for item in self._inputs if item is not edged for t in item.debouncer.settle(now)
        ]
        drafts: list[Draft] = []
        for transition, item in sorted(changes, key=lambda change: change[0].at):
            drafts += item.dispatch(transition)
        return drafts

    def _check_in(self, room: _Room, change: Transition) -> list[Draft]:
        return self._beeping(room, room.timer.check_in(change.at)) if change.pressed else []

    def _kiosk_button(self, kiosk: Kiosk, button: Button, change: Transition) -> list[Draft]:
        return kiosk.press(button, change.at) if change.pressed else kiosk.release(button, change.at)

    def _beeping(self, room: _Room, drafts: list[Draft]) -> list[Draft]:
        if room.buzzer is not None and (beep := indicators.restroom_beep(drafts)) is not None:
            room.buzzer.beep(beep)
        return drafts

    def _render(self, now: float) -> None:
        for room in self._rooms:
            if room.led is not None:
                room.led.show(indicators.restroom_led(now >= room.timer.due_at))
        for kiosk in self._kiosks:
            if kiosk.led is not None:
                kiosk.led.show(indicators.thank_you_led(kiosk.logic.thank_you_until, now))

    def _emit(self, drafts: list[Draft]) -> None:
        self._unsent.extend(drafts)
        while len(self._unsent) > MAX_UNSENT:  # a sink down for days must not exhaust the Pi's memory
            self._unsent.popleft()
            self._dropped += 1
        while self._unsent:
            try:
                self._sink.emit(self._unsent[0])
            except Exception:
                if not self._sink_failing:  # once per outage, not on every tick
                    log.exception(
                        "the event sink refused a %s draft; keeping drafts for retry", self._unsent[0].kind
                    )
                self._sink_failing = True
                return
            self._unsent.popleft()
        if self._sink_failing:
            log.warning("the event sink takes drafts again; the backlog is delivered")
            self._sink_failing = False


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"station.timezone: {name!r} is not an IANA time zone such as 'Europe/Oslo'"
        ) from None


def _describe(pattern: indicators.Pattern | None) -> str:
    if isinstance(pattern, indicators.Blink):
        return "blink"
    return "on" if pattern == indicators.ON else "off"
