"""The station service, wired in one place: outbox -> publisher, sensors and vision -> outbox, health, sd_notify.

Start order follows the data: the outbox first (so nothing a sensor reports can be lost), then the
publisher (the link is "up" once it runs, connected or not: a station without a broker keeps
recording), then the sensors and the camera. READY is sent once all of that runs; the main loop then
ticks the sensors, samples health on schedule and pets the systemd watchdog. Stop runs in reverse.

Subsystems reach the outbox through a guard: a draft that is not a valid event (a bug in that subsystem)
is logged as an error and counted in health instead of being raised into a GPIO callback or the camera
thread, where it would stop the buttons or the camera (and, for the sensors' retry queue, block every
later event). The outbox itself raises, so direct callers and tests see the error at its source.

A camera or detector that cannot be set up leaves the buttons running: the error is logged and sent
in every health message. Several services can run in one process (the demo runs a fleet): nothing here
is process-wide.

Every draft the outbox takes is also counted in today's figures (edge/today.py); with ``[web]`` or
``[homeassistant]`` enabled, :class:`edge.local.OnSite` serves them to the people on site.

HQ's settings (edge/fleet/) are laid over the file before anything is built, so a restart runs by what
was applied; a new document arrives on the publisher's thread and is applied live (``_apply_settings``).
"""

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.config import StationConfig
from edge.events import Draft, EventSink
from edge.fleet.overlay import Change, Effective
from edge.fleet.receiver import ConfigReceiver
from edge.fleet.store import AppliedStore
from edge.link.health import THERMAL, build_health, read_machine
from edge.link.outbox import Outbox
from edge.link.publisher import Publisher
from edge.today import DayTally
from forecourt import __version__
from forecourt.errors import ProtocolError
from forecourt.protocol import Health, Status, encode, format_epoch
from forecourt.sdnotify import notify, watchdog_interval
from forecourt.settings import config_hash

log = logging.getLogger(__name__)

TICK_S = 0.25  # sensor timers (overdue, stuck buttons) and LEDs need no finer step than this


class EdgeService:
    """``start()``/``stop()`` for embedding (tests, the demo); ``run()`` blocks for the CLI."""

    def __init__(
        self,
        config: StationConfig,
        *,
        pin_factory: Any = None,
        clock: Callable[[], float] = time.time,
        version: str = __version__,
        thermal: Path = THERMAL,
        notify_systemd: bool = True,
        config_path: Path | None = None,
    ) -> None:
        self.file_config = config  # HQ's settings are laid over this, never over the previous ones
        self.config = config  # what the station runs by: the file with HQ's settings applied
        self.config_path = config_path  # the file the station page's zone editor writes back to
        self.station = config.station.id
        self.pin_factory = pin_factory
        self.clock = clock
        self.version = version
        self.thermal = thermal
        self.notify_systemd = notify_systemd
        self.outbox: Outbox | None = None
        self.publisher: Publisher | None = None
        self.sensors: Any = None
        self.vision: Any = None
        self.started_at: float | None = None
        self.vision_error: str | None = None
        self.tally: DayTally | None = None
        self.onsite: Any = None
        self.fleet: ConfigReceiver | None = None
        self._level_before_hq: int | None = None  # the log level to go back to when HQ stops setting one
        # Held while sensors or vision are built from self.config and while HQ's settings are applied, so a
        # document arriving meanwhile (the retained one comes right after connecting) is never missed by them.
        self._building = threading.Lock()
        self._guards: dict[str, GuardedSink] = {}
        self._next_health = 0.0
        self._stop = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> "EdgeService":
        if self.outbox is not None:
            raise RuntimeError(f"station {self.station} is already started")
        self.started_at = now = self.clock()
        settings = self.config.outbox
        self.outbox = Outbox(settings.path, station=self.station, max_mb=settings.max_mb, clock=self.clock)
        try:
            self.fleet = ConfigReceiver(self.file_config, AppliedStore.beside(settings.path), apply=self._apply_settings,
                                        clock=self.clock)
            self._use(self.fleet.start())
            birth = Status(
                state="online", version=self.version, config_hash=config_hash(self.config), started_at=format_epoch(now)
            )
            self.publisher = Publisher(
                self.outbox, self.config.mqtt, station=self.station, birth=birth,
                window=settings.inflight, rate=settings.replay_rate, keep_until=settings.keep_until,
                resend_after_s=settings.resend_after_s, unacked_limit=settings.unacked_limit,
                on_config=self._settings_received,
            )
            if self.fleet.state is not None:  # said again on every connection
                self.publisher.set_config_state(encode(self.fleet.state, self.station)[1])
            self.publisher.start()
            self.tally = DayTally(
                kiosk_scales={k.id: k.scale for k in self.config.kiosks}, restrooms=[r.id for r in self.config.restrooms],
                timezone=self.config.station.timezone, started_at=now, last_check_ins=self.outbox.last_check_ins(),
            )
            if self.config.web.enabled or self.config.homeassistant.enabled:
                from edge.local import OnSite

                self.onsite = OnSite(self)
            with self._building:
                self.sensors = self._build_sensors()
                self.vision = self._build_vision()
            if self.onsite is not None:
                self.onsite.start(birth)
        except BaseException:
            self.stop()
            raise
        self._next_health = now
        self._sd("READY=1")
        log.info("station %s started (outbox %s, broker %s)", self.station, settings.path, self.config.mqtt.url)
        return self

    def stop(self) -> None:
        """Stop inputs first, then let the link say goodbye, then close the outbox. Safe to call twice."""
        self._stop.set()
        self._sd("STOPPING=1")
        if self.onsite is not None:
            _quietly(self.onsite.stop, "stopping the station page and Home Assistant")
            self.onsite = None
        if self.sensors is not None:
            _quietly(self.sensors.close, "closing the sensors")
            self.sensors = None
        if self.vision is not None:
            _quietly(self.vision.stop, "stopping the camera pipeline")
            self.vision = None
        if self.publisher is not None:
            self.publisher.stop()
            self.publisher = None
        if self.outbox is not None:
            self.outbox.close()
            self.outbox = None
        if self._level_before_hq is not None:  # HQ's log level was for this service's run
            logging.getLogger().setLevel(self._level_before_hq)
            self._level_before_hq = None

    def request_stop(self) -> None:
        """From a signal handler or another thread: make :meth:`run` return."""
        self._stop.set()

    def run(self) -> None:
        """Start, loop until :meth:`request_stop`, stop. Pets the watchdog even while the broker is away."""
        self.start()
        try:
            watchdog = watchdog_interval()
            step = min(TICK_S, watchdog) if watchdog else TICK_S
            said = ""
            while not self._stop.wait(step):
                self.tick()
                if watchdog:
                    self._sd("WATCHDOG=1")
                if (status := self.link_status()) != said:  # what `systemctl status` shows, when it changes
                    self._sd(f"STATUS={status}")
                    said = status
        finally:
            self.stop()

    def link_status(self) -> str:
        """One line for people: is the link up, and if not, why and what is waiting."""
        publisher = self.publisher
        if publisher is None:
            return "stopped"
        if publisher.connected:
            return f"station {self.station}: connected to {self.config.mqtt.url}"
        return f"station {self.station}: recording locally; {publisher.last_error or 'connecting'}"

    # -- one pass of the main loop ---------------------------------------------------------------------

    def tick(self, now: float | None = None) -> Health | None:
        """Run sensor timers; store a health sample when one is due (returned, for tests and the demo)."""
        now = self.clock() if now is None else now
        sensors = self.sensors  # the install check may swap them from the page's thread
        if sensors is not None:
            _quietly(lambda: sensors.tick(now), "sensor tick")
        if self.onsite is not None:
            _quietly(lambda: self.onsite.tick(now), "station page / Home Assistant tick")
        if now < self._next_health:
            return None
        self._next_health = now + self.config.health.interval_s
        health = self.sample_health(now)
        if self.outbox is not None:
            self.outbox.add_health(health)
        return health

    def sample_health(self, now: float | None = None) -> Health:
        if self.outbox is None or self.started_at is None:
            raise RuntimeError("start the service before sampling its health")
        now = self.clock() if now is None else now
        return build_health(
            station=self.station,
            version=self.version,
            now=now,
            started_at=self.started_at,
            outbox=self.outbox.stats(),
            link=self.publisher.stats() if self.publisher else None,
            sensors=_stats(self.sensors, "sensors"),
            vision=_stats(self.vision, "vision"),
            machine=read_machine(self.thermal),
            notes=self._notes(),
        )

    def _notes(self) -> dict[str, Any]:
        notes: dict[str, Any] = {}
        invalid = {name: guard.invalid for name, guard in self._guards.items() if guard.invalid}
        if invalid:
            notes["invalid_drafts"] = invalid
        if self.vision_error:
            notes["vision_error"] = self.vision_error[:300]
        return notes

    # -- optional subsystems ---------------------------------------------------------------------------

    def _build_sensors(self) -> Any:
        if not (self.config.restrooms or self.config.kiosks):
            return None
        # Imported here: gpiozero loads only on stations with buttons.
        from edge.sensors import build_sensors

        return build_sensors(
            self.config, self._guard("sensors"), pin_factory=self.pin_factory, clock=self.clock,
            last_check_ins=self.outbox.last_check_ins(),
        )

    def pause_sensors(self) -> None:
        """Close the buttons (the install check takes their pins); :meth:`resume_sensors` rebuilds them."""
        sensors, self.sensors = self.sensors, None
        if sensors is not None:
            sensors.close()

    def resume_sensors(self) -> None:
        with self._building:
            if self.sensors is None and self.outbox is not None:
                self.sensors = self._build_sensors()

    def _build_vision(self) -> Any:
        if self.config.camera is None:
            return None
        try:
            # Imported here: OpenCV and onnxruntime load only on stations with a camera.
            from edge.vision.pipeline import Pipeline

            on_frame = self.onsite.frames.offer if self.onsite is not None and self.config.web.enabled else None
            pipeline = Pipeline.from_config(self.config, self._guard("vision"), on_frame=on_frame)
            pipeline.start()
        except Exception as err:  # the buttons must keep working without the camera
            self.vision_error = f"{type(err).__name__}: {err}"
            log.error("station %s runs without vision: %s", self.station, self.vision_error)
            return None
        return pipeline

    # -- HQ's settings -----------------------------------------------------------------------------------

    def _settings_received(self, payload: bytes) -> None:
        """A document on the config topic (publisher thread): judged, maybe applied, and answered."""
        fleet, publisher = self.fleet, self.publisher
        if fleet is not None and publisher is not None and (state := fleet.receive(payload)) is not None:
            publisher.set_config_state(encode(state, self.station)[1])

    def _apply_settings(self, effective: Effective, changes: list[Change]) -> list[str]:
        """The running station by ``effective`` from now on; the changed paths that need a restart (none)."""
        with self._building:
            self._use(effective)
            sensors, vision = self.sensors, self.vision  # paused sensors are rebuilt from self.config
            if sensors is not None:
                sensors.retune(effective.config)
            if vision is not None:
                vision.retune(effective.config)
        return []

    def _use(self, effective: Effective) -> None:
        self.config = effective.config
        root = logging.getLogger()  # process-wide: in a demo fleet in one process, the last station's wins
        if effective.log_level is not None:
            if self._level_before_hq is None:
                self._level_before_hq = root.level
            root.setLevel(effective.log_level)
        elif self._level_before_hq is not None:
            root.setLevel(self._level_before_hq)
            self._level_before_hq = None

    def _guard(self, name: str) -> "GuardedSink":
        assert self.outbox is not None
        self._guards[name] = guard = GuardedSink(self.outbox, name, on_stored=self._drafted)
        return guard

    def _drafted(self, draft: Draft) -> None:
        if self.tally is not None:
            self.tally.record(draft)
        if self.onsite is not None:
            self.onsite.drafted(draft)

    def _sd(self, state: str) -> None:
        if self.notify_systemd:
            notify(state)


class GuardedSink:
    """An :class:`EventSink` in front of the outbox for one subsystem: invalid drafts are logged and counted."""

    def __init__(self, sink: EventSink, name: str, *, on_stored: Callable[[Draft], None] | None = None) -> None:
        self.sink = sink
        self.name = name
        self.invalid = 0
        self.on_stored = on_stored  # sees each draft the sink took (today's figures, Home Assistant)

    def emit(self, draft: Draft) -> None:
        try:
            self.sink.emit(draft)
        except ProtocolError as err:
            self.invalid += 1
            log.error("%s produced an invalid %s event; it cannot be sent and is not kept: %s", self.name, draft.kind, err)
            return
        if self.on_stored is not None:
            _quietly(lambda: self.on_stored(draft), "counting a draft for the station page")


def _stats(subsystem: Any, name: str) -> dict[str, Any] | None:
    if subsystem is None:
        return None
    try:
        return dict(subsystem.stats())
    except Exception:  # health must still go out when a subsystem's counters fail
        log.exception("reading %s stats failed", name)
        return {"stats_error": True}


def _quietly(action: Callable[[], Any], what: str) -> None:
    try:
        action()
    except Exception:  # one failing subsystem must neither stop the others nor the loop
        log.exception("%s failed", what)
