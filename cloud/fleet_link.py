"""The collector's side of fleet configuration on the broker: each station's current document, retained,
QoS 1, on ``forecourt/v1/<station>/config``. (The states stations report come in with ingest:
cloud/ingest.py keeps each station's latest on ``config_state``.)

Changes are written to the database by whoever makes them (the CLI, the API, in their own processes),
so this thread looks for documents issued after the last one it published every ``poll_s`` (one indexed
query), and rebuilds every station's document every ``refresh_s`` for what the registry changed (a
station imported into a region, or one that published before anyone placed it). At start, and after
every reconnection of the collector's MQTT session, it publishes every station's current document
again: the broker may have lost its retained copies, and a station ignores a rev it has applied, so
publishing one twice is harmless.
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt

from cloud.config import FleetSettings
from cloud.database import Database
from cloud.fleet_store import documents_after, refresh_documents
from cloud.store import open_db, utc_now
from forecourt.protocol import encode

log = logging.getLogger("forecourt.collector.fleet")


FLEET_PUBLISHER = "forecourt:fleet-publisher"


class FleetPublisher:
    """``start()`` begins publishing in a thread of its own; ``run_once(db)`` is one round, for tests.

    ``generation()`` says how many times the MQTT session has (re)connected: a new value means the broker
    is to hear every current document again."""

    def __init__(
        self, db_path: str | Path, client: mqtt.Client, *, settings: FleetSettings | None = None,
        generation: Callable[[], int] = lambda: 1, clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.db_path = db_path
        self.client = client
        self.settings = settings or FleetSettings()
        self.generation = generation
        self.clock = clock
        self.published = 0  # documents handed to the MQTT client
        self._last_id = 0  # the newest document row published on this generation
        self._generation: int | None = None
        self._refreshed = float("-inf")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="collector-fleet", daemon=True)

    def run_once(self, db: Database) -> int:
        """Rebuild documents when due, then publish what is new; how many documents were published.

        With several collectors on one database, one at a time does this (an advisory lock): two issuing
        revisions at once would hand a station two documents for one change."""
        if not db.try_lock(FLEET_PUBLISHER):
            self._generation = None  # whoever publishes next here republishes everything
            return 0
        try:
            return self._publish(db)
        finally:
            db.unlock(FLEET_PUBLISHER)

    def _publish(self, db: Database) -> int:
        if time.monotonic() - self._refreshed >= self.settings.refresh_s:
            issued = refresh_documents(db, self.clock())
            self._refreshed = time.monotonic()
            if issued:
                log.info("issued settings to %d station(s) the registry added or moved", len(issued))
        generation = self.generation()
        if generation != self._generation:
            self._generation, self._last_id = generation, 0
        sent = 0
        for row_id, station, document in documents_after(db, self._last_id):
            info = self.client.publish(*encode(document, station), qos=1, retain=True)
            # Not connected: paho keeps a QoS 1 message and sends it on reconnecting; and the next
            # generation republishes everything anyway.
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                log.warning("could not publish settings rev %d to %s (%s); trying again", document.rev, station, info.rc)
                break
            self._last_id = row_id
            sent += 1
            log.debug("published settings rev %d to %s", document.rev, station)
        self.published += sent
        return sent

    def _loop(self) -> None:
        db = open_db(self.db_path)
        try:
            while True:
                try:
                    self.run_once(db)
                except Exception:  # a bad round must not end publishing; the next one tries again
                    log.exception("publishing fleet settings failed")
                if self._stop.wait(self.settings.poll_s):
                    return
        finally:
            db.close()

    def start(self) -> "FleetPublisher":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
