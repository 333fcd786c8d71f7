"""The fault schedules of issue 14: which process is killed when, by progress (share of events committed)."""

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class BrokerKill:
    at: float  # share of all events committed when it fires
    down_s: float = 0.3  # pause before the restart (from the same persistence directory)
    min_uptime_s: float = 0.0  # first let the broker live this long (past autosave_interval: a kill after a save)


@dataclass(frozen=True)
class StationKill:
    at: float
    station: int  # index into the fleet
    down_s: float = 0.2


@dataclass(frozen=True)
class CollectorKill:
    at: float
    restart_at: float  # restarted once this share is committed: the broker queues for it meanwhile
    broker_kill_at: float | None = None  # a broker kill (and restart) while the collector is down
    broker_down_s: float = 0.3


Fault = BrokerKill | StationKill | CollectorKill


@dataclass(frozen=True)
class Step:
    at: float
    action: str  # kill_broker | kill_station | kill_collector | start_collector
    station: int = -1
    down_s: float = 0.0
    min_uptime_s: float = 0.0


@dataclass(frozen=True)
class Schedule:
    faults: tuple[Fault, ...]

    def steps(self) -> list[Step]:
        steps: list[Step] = []
        for f in self.faults:
            if isinstance(f, BrokerKill):
                steps.append(Step(f.at, "kill_broker", down_s=f.down_s, min_uptime_s=f.min_uptime_s))
            elif isinstance(f, StationKill):
                steps.append(Step(f.at, "kill_station", station=f.station, down_s=f.down_s))
            else:
                steps.append(Step(f.at, "kill_collector"))
                if f.broker_kill_at is not None:
                    steps.append(Step(f.broker_kill_at, "kill_broker", down_s=f.broker_down_s))
                steps.append(Step(f.restart_at, "start_collector"))
        return sorted(steps, key=lambda s: s.at)

    def count(self, action: str) -> int:
        return sum(s.action == action for s in self.steps())


def compressed_schedule(stations: int, seed: int = 0) -> Schedule:
    """CI's schedule: 5 broker kills, 3 station kills, 1 collector kill with a 6th broker kill while it is down.

    The whole run is shorter than Mosquitto's autosave_interval (30 s, now 1,800 s as generated), so every
    broker kill comes before any autosave: the broker restarts from what it last saved on a clean stop, if
    anything.
    """
    picked = random.Random(seed).sample(range(stations), 3)
    return Schedule((
        BrokerKill(0.08), StationKill(0.16, picked[0]), BrokerKill(0.24), StationKill(0.32, picked[1]),
        BrokerKill(0.40), CollectorKill(0.48, restart_at=0.60, broker_kill_at=0.54),
        BrokerKill(0.68), StationKill(0.76, picked[2]), BrokerKill(0.84),
    ))


def full_schedule(stations: int, seed: int = 0, *, autosave_s: float | None = 30.0, reachable_s: float = 60.0) -> Schedule:
    """The issue's schedule for a burst of ~2 minutes: 6 broker kills (one right after a restart, one while
    the collector is down), 3 station kills and the collector kill between them.

    With an ``autosave_s`` within ``reachable_s``, two broker kills wait until the broker has lived past an
    autosave, so broker lives fall on both sides of it; a longer interval (the shipped broker saves every
    1,800 s) cannot be reached in a bench run, and every kill comes before any autosave.
    """
    picked = random.Random(seed).sample(range(stations), 3)
    saved = autosave_s + 2.0 if autosave_s is not None and autosave_s <= reachable_s else 0.0
    return Schedule((
        BrokerKill(0.10), StationKill(0.18, picked[0]), BrokerKill(0.40, min_uptime_s=saved), BrokerKill(0.43),
        StationKill(0.48, picked[1]), CollectorKill(0.52, restart_at=0.62, broker_kill_at=0.56),
        StationKill(0.72, picked[2]), BrokerKill(0.86, min_uptime_s=saved), BrokerKill(0.92),
    ))
