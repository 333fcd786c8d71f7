"""Restroom cleaning check-ins and satisfaction kiosks on gpiozero.

Pure logic (:mod:`.debounce`, :mod:`.hours`, :mod:`.restroom`, :mod:`.kiosk`, :mod:`.indicators`) takes
times and returns event drafts; :mod:`.gpio` is the thin gpiozero adapter; :mod:`.station` wires one
station's config to both. The edge service uses only :func:`build_sensors`::

    sensors = build_sensors(config, sink, pin_factory=None, clock=time.time)
    sensors.tick()        # every 0.2-1 s
    sensors.stats()       # for the health message
    sensors.close()
"""

import time
from collections.abc import Mapping

from gpiozero.pins import Factory

from edge.config import StationConfig
from edge.events import EventSink
from edge.sensors.gpio import Clock
from edge.sensors.station import Sensors

__all__ = ["Sensors", "build_sensors"]


def build_sensors(
    config: StationConfig,
    sink: EventSink,
    *,
    pin_factory: Factory | None = None,
    clock: Clock = time.time,
    last_check_ins: Mapping[str, float] | None = None,
) -> Sensors:
    """Build every restroom and kiosk of ``config`` on ``pin_factory`` (``None`` = gpiozero's default).

    ``clock`` stamps every button edge and is the time :meth:`Sensors.tick` uses when not given one;
    inject a simulated clock to replay history. Raises :class:`~forecourt.errors.ConfigError` for an
    unknown time zone and gpiozero's own errors for pins the factory cannot provide.
    ``last_check_ins`` (restroom id -> epoch seconds, kept by the outbox) carries the restrooms' clocks
    across a restart or power cut, so a reboot does not postpone an overdue restroom.
    """
    return Sensors(config, sink, pin_factory=pin_factory, clock=clock, last_check_ins=last_check_ins)
