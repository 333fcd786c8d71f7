"""The station page's server: uvicorn in a thread of the edge service, started and stopped with it."""

import logging
import threading
import time
from typing import Any

import uvicorn

from edge.web.app import create_page_app

log = logging.getLogger("forecourt.page")


class StationPage:
    def __init__(self, onsite: Any) -> None:
        web = onsite.config.web
        self.listen = web.listen
        self.server = uvicorn.Server(uvicorn.Config(
            create_page_app(onsite), host=web.address.host, port=web.address.port, log_level="warning", access_log=False,
        ))
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> "StationPage":
        self._thread = threading.Thread(target=self.server.run, name="station-page", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise OSError(f"the station page did not start on {self.listen} (port taken?)")
            time.sleep(0.01)
        log.info("station page on http://%s/", self.listen)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
