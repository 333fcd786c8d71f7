"""Plays a station's plan into the real edge code: bouncy edges on MockFactory pins, visits to the outbox.

The pure half (:func:`edges`, :func:`visit_draft`, :func:`timeline`) says what a wire and a camera would
say; the :class:`SimulatedStation` adapter makes it happen on one station's own ``MockFactory`` under a
:class:`SimClock` that the simulator moves while back-filling history and that follows the wall clock
afterwards, so the sensors' state (last check-in, overdue timers) runs on seamlessly into the live demo.
"""

import random
import threading
import time
from collections import deque
from dataclasses import dataclass

from gpiozero.pins.mock import MockFactory

from edge.config import StationConfig
from edge.events import Draft
from edge.service import EdgeService
from edge.vision.visits import VisitRecord
from forecourt.demo.simulator import DayPlan, Press, Profile, VisitPlan, plan

BOUNCE_SPREAD_S = 0.008  # cheap arcade buttons settle within ~10 ms; the sensors debounce 30 ms
TICK_S = 60.0  # sensor timers (overdue restrooms, stuck buttons) run at least this often in history
LIVE_HORIZON_S = 3600.0  # live plans are made an hour ahead, so a demo can run for days
HISTORY_HEALTH_S = 900.0  # health every 15 simulated minutes: weeks of 60 s samples would swamp the history

Item = tuple[float, int, object]  # (time, order at equal times, Edge | "settle" | VisitPlan)


@dataclass(frozen=True, order=True)
class Edge:
    at: float
    pin: int
    pressed: bool  # pull-up wiring: pressed = pin driven low


def edges(press: Press, rng: random.Random) -> list[Edge]:
    """The raw edges of one press: first contact, 0-3 rebounds, release with its own rebounds."""
    out = [Edge(press.at, press.pin, True)]
    for start, level in ((press.at, True), (press.at + press.hold_s, False)):
        if level is False:
            out.append(Edge(start, press.pin, False))
        t = start
        for _ in range(rng.randint(0, 3)):
            t += rng.uniform(0.0005, BOUNCE_SPREAD_S / 3)
            out.append(Edge(t, press.pin, not level))
            t += rng.uniform(0.0005, BOUNCE_SPREAD_S / 3)
            out.append(Edge(t, press.pin, level))
    return out


def visit_draft(visit: VisitPlan, min_fps: float = 5.0) -> Draft:
    """A ``visit`` draft exactly as the vision pipeline emits it when the car leaves (the same record)."""
    record = VisitRecord(visit.bay, visit.arrived_at, visit.stopped_at, visit.greeted_at, visit.departed_at,
                         min_fps=min_fps)
    return record.to_draft()


def timeline(day: DayPlan, rng: random.Random) -> list[Item]:
    """Edges, a 'settle' mark just after each release, and visits, merged in time order."""
    items: list[Item] = []
    for press in day.presses:
        items += [(e.at, 0, e) for e in edges(press, rng)]
        items.append((press.at + press.hold_s + 0.1, 1, "settle"))
    items += [(v.departed_at, 2, v) for v in day.visits]
    items.sort(key=lambda item: item[:2])  # stable; edges sort before a settle mark at the same time
    return items


class SimClock:
    """Epoch seconds: set by the simulator while back-filling, then the wall clock (``go_live``)."""

    def __init__(self, start: float) -> None:
        self._t = start
        self._live = False

    def __call__(self) -> float:
        return time.time() if self._live else self._t

    def set(self, t: float) -> None:
        if not self._live:
            self._t = max(self._t, t)  # never backwards: outbox times and timers assume a forward clock

    def go_live(self) -> None:
        self._live = True


class SimulatedStation:
    """One station: its own MockFactory, the real :class:`EdgeService`, and a plan played into both."""

    def __init__(self, profile: Profile, config: StationConfig, *, start: float, seed: int | str = 0) -> None:
        self.profile = profile
        self.config = config
        self.seed = seed
        self.clock = SimClock(start)
        self.factory = MockFactory()  # never the process-wide factory: twelve stations share this process
        self.service = EdgeService(config, pin_factory=self.factory, clock=self.clock, notify_systemd=False)
        self.rng = random.Random(f"{seed}:{profile.station}:edges")
        self.presses = self.visits = 0  # played so far (rebounds not counted)
        self._lock = threading.Lock()
        self._pending: deque[Item] = deque()
        self._played_to = start

    def start(self) -> "SimulatedStation":
        self.service.start()
        return self

    def replay(self, end: float, *, stop: threading.Event | None = None) -> None:
        """Back-fill from where we are to ``end`` as fast as the edge code goes.

        Sensor timers run every simulated minute and health is sampled every :data:`HISTORY_HEALTH_S`.
        """
        start = self._played_to
        next_tick, next_health = start + TICK_S, start
        items = timeline(plan(self.profile, self.config, start, end, self.seed), self.rng)
        for count, (at, _, item) in enumerate(items):
            while next_tick <= at:
                self._tick_history(next_tick)
                if next_tick >= next_health:
                    self.service.outbox.add_health(self.service.sample_health(next_tick))
                    next_health = next_tick + HISTORY_HEALTH_S
                next_tick += TICK_S
            self.clock.set(at)
            self._apply(at, item)
            if count % 2000 == 0 and stop is not None and stop.is_set():
                return
        self._tick_history(end)
        self._played_to = end

    def go_live(self) -> None:
        """Follow the wall clock from now on, playing the plan as it comes due (an hour at a time)."""
        self.clock.go_live()
        self._queue_until(time.time() + LIVE_HORIZON_S)

    def _queue_until(self, until: float) -> None:
        day = plan(self.profile, self.config, self._played_to, until, self.seed)
        if self.profile.camera:  # the real camera pipeline reports this station's visits live
            day = DayPlan(day.presses, ())
        self._pending.extend(timeline(day, self.rng))
        self._played_to = until

    def advance(self, now: float) -> None:
        """Live: play every due edge and visit (stamped now, as a wire would be), then tick."""
        with self._lock:
            if now + LIVE_HORIZON_S / 2 > self._played_to:
                self._queue_until(now + LIVE_HORIZON_S)
            while self._pending and self._pending[0][0] <= now:
                at, _, item = self._pending.popleft()
                self._apply(at, item)
            self.service.tick(now)

    def _tick_history(self, now: float) -> None:
        self.clock.set(now)
        if self.service.sensors is not None:
            self.service.sensors.tick(now)

    def _apply(self, at: float, item: object) -> None:
        if isinstance(item, Edge):
            pin = self.factory.pin(item.pin)
            if item.pressed:
                pin.drive_low()
            else:
                pin.drive_high()
        elif isinstance(item, VisitPlan):
            self.service.outbox.emit(visit_draft(item))
            self.visits += 1
        else:  # "settle": let the debouncer confirm a release now, not at the next minute's tick
            self.presses += 1
            if self.service.sensors is not None:
                self.service.sensors.tick(self.clock())  # = at in history, the wall clock live

    def stop(self) -> None:
        self.service.stop()
        self.factory.close()
