"""What the station offers the people on site: its page (``[web]``) and Home Assistant (``[homeassistant]``).

:class:`OnSite` is built by the edge service when either is enabled and reads the service's subsystems
through their public faces (``stats()``); the only thing it changes is the service's sensors, which the
install check pauses (:meth:`EdgeService.pause_sensors`) and hands back. A failure here is logged and
never stops the station: the buttons and the outbox come first.
"""

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.events import Draft
from edge.station_view import StationView, build_view
from edge.web.frames import LatestFrame
from edge.web.install_check import InstallCheck

if TYPE_CHECKING:
    from edge.config import StationConfig
    from edge.service import EdgeService

log = logging.getLogger("forecourt.onsite")


def _stats(subsystem: Any) -> Any:
    try:
        return None if subsystem is None else subsystem.stats()
    except Exception:  # the page must render even when a subsystem's counters fail
        log.exception("reading stats for the station page failed")
        return None


class OnSite:
    def __init__(self, service: "EdgeService") -> None:
        self.service = service
        self.frames = LatestFrame(lambda: getattr(service.vision, "scene", None))
        self.install_check: InstallCheck | None = None
        self._check_lock = threading.Lock()
        self.page: Any = None
        self.bridge: Any = None

    @property
    def config(self) -> "StationConfig":
        """What the station runs by now: HQ's settings may change it while the page is up."""
        return self.service.config

    @property
    def config_path(self) -> Path | None:
        return self.service.config_path

    @property
    def page_url(self) -> str | None:
        web = self.config.web
        return f"http://{web.listen}/" if web.enabled else None

    def start(self, birth: Any) -> "OnSite":
        if self.config.web.enabled:
            from edge.web.server import StationPage

            try:
                self.page = StationPage(self).start()
            except Exception:
                log.exception("the station page could not start on %s", self.config.web.listen)
        if self.config.homeassistant.enabled:
            from edge.link.ha_bridge import HomeAssistantBridge

            self.bridge = HomeAssistantBridge(self.config.homeassistant, self.config, birth=birth,
                                              version=self.service.version, page_url=self.page_url).start()
        return self

    def stop(self) -> None:
        self.end_install_check()
        for part in (self.bridge, self.page):
            if part is not None:
                try:
                    part.stop()
                except Exception:
                    log.exception("stopping %s failed", type(part).__name__)
        self.bridge = self.page = None

    # -- what the service feeds in ------------------------------------------------------------------------

    def drafted(self, draft: Draft) -> None:
        if self.bridge is not None:
            self.bridge.drafted(draft)

    def tick(self, now: float) -> None:
        check = self.install_check
        if check is not None and now >= check.ends_at:
            log.warning("the install check ran %g min; the buttons count again", self.config.web.install_check_min)
            self.end_install_check()
        if self.bridge is not None:
            self.bridge.tick(self.view(now))

    # -- what the page and Home Assistant read ---------------------------------------------------------------

    def view(self, now: float | None = None) -> StationView:
        service = self.service
        now = service.clock() if now is None else now
        outbox, publisher = service.outbox, service.publisher
        return build_view(
            config=self.config, version=service.version, now=now, started_at=service.started_at or now,
            today=service.tally.figures(now), sensors=_stats(service.sensors), vision=_stats(service.vision),
            vision_error=service.vision_error, outbox=outbox.stats() if outbox else None,
            link=publisher.stats() if publisher else None, install_check=self.install_check is not None,
        )

    # -- the install check ----------------------------------------------------------------------------------

    def begin_install_check(self) -> InstallCheck:
        with self._check_lock:
            if self.install_check is None:
                service = self.service
                service.pause_sensors()
                try:
                    ends_at = service.clock() + 60 * self.config.web.install_check_min
                    self.install_check = InstallCheck(self.config, pin_factory=service.pin_factory,
                                                      clock=service.clock, ends_at=ends_at)
                except BaseException:
                    service.resume_sensors()
                    raise
                log.info("install check started: presses are shown on the page, not recorded")
            return self.install_check

    def end_install_check(self) -> None:
        with self._check_lock:
            check, self.install_check = self.install_check, None
            if check is None:
                return
            check.close()
            self.service.resume_sensors()
            log.info("install check ended: the buttons count again")
