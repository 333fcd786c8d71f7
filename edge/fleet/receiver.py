"""What a settings document from HQ does on the station, and the state the station reports about it.

HQ retains one full document per station on ``forecourt/v1/<station>/config``; the broker hands it over
on every subscription, so the station sees the same document again after each reconnect. Rules:

- Only a ``rev`` above the highest one this station ever applied is considered. An equal rev is the
  retained copy of what runs (or a replay); a lower one is a replay or a rollback sent the wrong way
  (HQ rolls back by issuing a *new* rev with the old settings). Either is ignored and logged, and the
  reported state keeps naming the rev in effect.
- A document is laid over the station's *file* (:mod:`.overlay`). Rejected: nothing changes, the
  state says why by key. Applied: kept durably (:mod:`.store`) first, then applied live through the
  ``apply`` callback, which says what needs a restart.
- At start the kept document is laid over the file again before anything runs by the config. If the
  file has changed so that it no longer fits (a restroom removed), the station runs by its file and
  reports that rev rejected, and still applies nothing at or below it: HQ fixes it with a new rev.
- A document rejected once is not judged again until the station restarts (the retained copy comes back
  on every reconnect; the answer would be the same).

Thread-safe: documents arrive on the publisher's thread, the service reads :attr:`effective` on its own.
"""

import logging
import threading
import time
from collections.abc import Callable

from edge.config import StationConfig
from edge.fleet.overlay import Change, Effective, changes, overlay
from edge.fleet.store import AppliedStore, Kept
from forecourt.errors import ProtocolError
from forecourt.protocol import (
    ConfigDocument,
    ConfigState,
    SettingError,
    config_topic,
    decode_config,
    format_epoch,
)

log = logging.getLogger(__name__)

# Applies an effective config to the running station; returns the changed paths that need a restart.
ApplyLive = Callable[[Effective, list[Change]], list[str]]
MAX_LISTED = 100  # ConfigState holds at most this many errors and restart_needed paths


class ConfigReceiver:
    def __init__(
        self, file_config: StationConfig, store: AppliedStore, *, apply: ApplyLive, clock: Callable[[], float] = time.time
    ) -> None:
        self.file_config = file_config
        self.station = file_config.station.id
        self.topic = config_topic(self.station)
        self.store = store
        self.apply = apply
        self.clock = clock
        self.effective = Effective(file_config)
        self.state: ConfigState | None = None  # what the station reports; None until it has seen a document
        self.applied_rev = 0  # the rev in effect; 0: the file alone
        self.floor = 0  # the highest rev ever applied here: nothing at or below it is applied again
        self._rejected: tuple[int, str] | None = None
        self._lock = threading.Lock()

    def start(self) -> Effective:
        """The kept document over the file again: what the station should run by from the start."""
        with self._lock:
            kept = self.store.load()
            if kept is None:
                return self.effective
            document = kept.document
            self.floor = document.rev
            outcome = overlay(self.file_config, document.settings)
            if isinstance(outcome, list):
                log.error(
                    "station %s runs by its file alone: the settings rev %d it applied before no longer fit it (%s)",
                    self.station, document.rev, "; ".join(e.message for e in outcome),
                )
                self.state = self._rejected_state(document, outcome)
                return self.effective
            self.effective, self.applied_rev = outcome, document.rev
            self.state = ConfigState(rev=document.rev, hash=document.hash, state="applied", applied_rev=document.rev,
                                     at=kept.applied_at)
            log.info("station %s runs by its file with HQ's settings rev %d", self.station, document.rev)
            return self.effective

    def receive(self, payload: bytes) -> ConfigState | None:
        """A payload from the config topic; the new state to report, or None when there is nothing new to say."""
        with self._lock:
            if not payload:  # HQ cleared the retained document: no instruction, so nothing changes
                log.info("HQ removed the settings document of station %s; rev %d stays in effect", self.station, self.applied_rev)
                return None
            try:
                document = decode_config(self.topic, payload)
            except ProtocolError as err:
                log.error("ignored a malformed settings document on %s: %s", self.topic, err)
                return None
            if document.rev <= self.floor:
                current = self.state is not None and (self.state.rev, self.state.hash) == (document.rev, document.hash)
                log.log(
                    logging.DEBUG if current else logging.WARNING,
                    "ignored settings rev %d for station %s: rev %d was applied here, only a higher rev is",
                    document.rev, self.station, self.floor,
                )
                return None
            if self._rejected == (document.rev, document.hash):
                log.debug("settings rev %d was rejected already; the same answer stands", document.rev)
                return None
            return self._judge(document)

    def _judge(self, document: ConfigDocument) -> ConfigState:
        outcome = overlay(self.file_config, document.settings)
        if isinstance(outcome, list):
            return self._reject(document, outcome)
        found = changes(self.effective, outcome)
        at = format_epoch(self.clock())
        try:
            self.store.save(Kept(document, at))
        except OSError as err:
            return self._reject(document, [SettingError(path="document", message=f"cannot be kept on this station: {err}")])
        self.effective, self.applied_rev, self.floor = outcome, document.rev, document.rev
        restart = [change.path for change in found if not change.live]
        try:
            restart += self.apply(outcome, found)
        except Exception:  # kept, so it takes effect at the next start; say so rather than "applied" alone
            log.exception("applying settings rev %d live failed; they take effect at the next restart", document.rev)
            restart = [change.path for change in found]
        self.state = ConfigState(rev=document.rev, hash=document.hash, state="applied", applied_rev=document.rev,
                                 restart_needed=sorted(set(restart))[:MAX_LISTED], at=at)
        described = ", ".join(f"{c.path} {c.before!r} -> {c.after!r}" for c in found) or "nothing changed"
        log.info("station %s applied settings rev %d: %s", self.station, document.rev, described)
        return self.state

    def _reject(self, document: ConfigDocument, errors: list[SettingError]) -> ConfigState:
        self._rejected = (document.rev, document.hash)
        log.warning("station %s rejected settings rev %d; nothing changed: %s",
                    self.station, document.rev, "; ".join(e.message for e in errors))
        self.state = self._rejected_state(document, errors)
        return self.state

    def _rejected_state(self, document: ConfigDocument, errors: list[SettingError]) -> ConfigState:
        return ConfigState(rev=document.rev, hash=document.hash, state="rejected", errors=errors[:MAX_LISTED],
                           applied_rev=self.applied_rev, at=format_epoch(self.clock()))
