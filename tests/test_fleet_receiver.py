"""What a settings document does on the station (edge/fleet/receiver.py) and how it is kept (store.py)."""

import json
import logging
from pathlib import Path

import pytest

from edge.config import StationConfig
from edge.fleet.overlay import Change, Effective
from edge.fleet.receiver import ConfigReceiver
from edge.fleet.store import AppliedStore
from forecourt.protocol import ConfigDocument, ConfigState, encode, format_epoch, settings_hash

T0 = 1_795_430_000.0
FILE = StationConfig.model_validate({
    "station": {"id": "a"},
    "restrooms": [{"id": "ladies", "button_pin": 5}, {"id": "gents", "button_pin": 6}],
})


def document(rev: int, settings: dict) -> bytes:
    doc = ConfigDocument(rev=rev, hash=settings_hash(settings), issued_at=format_epoch(T0), settings=settings)
    return encode(doc, "a")[1]


class Station:
    """A receiver as the service wires it, recording what it was asked to apply live."""

    def __init__(self, store: AppliedStore, file: StationConfig = FILE, *, fail: bool = False) -> None:
        self.applied: list[tuple[Effective, list[Change]]] = []
        self.fail = fail
        self.clock = lambda: T0 + 60
        self.receiver = ConfigReceiver(file, store, apply=self._apply, clock=self.clock)
        self.started = self.receiver.start()

    def _apply(self, effective: Effective, changes: list[Change]) -> list[str]:
        if self.fail:
            raise RuntimeError("a bug in a subsystem")
        self.applied.append((effective, changes))
        return []

    def intervals(self) -> list[float]:
        return [r.interval_min for r in self.receiver.effective.config.restrooms]


@pytest.fixture
def store(tmp_path) -> AppliedStore:
    return AppliedStore.beside(tmp_path / "a-outbox.db")


def test_a_higher_rev_is_kept_then_applied_and_reported(store):
    station = Station(store)
    assert station.started == Effective(FILE) and station.receiver.state is None
    state = station.receiver.receive(document(3, {"restrooms.interval_min": 30, "log_level": "DEBUG"}))
    assert state == ConfigState(rev=3, hash=settings_hash({"restrooms.interval_min": 30, "log_level": "DEBUG"}),
                                state="applied", applied_rev=3, at=format_epoch(T0 + 60))
    assert station.intervals() == [30, 30] and station.receiver.effective.log_level == "DEBUG"
    assert [c.path for c in station.applied[0][1]] == ["restrooms.ladies.interval_min", "restrooms.gents.interval_min", "log_level"]
    assert store.path == store.path.with_name("a-outbox.fleet.json")
    kept = json.loads(store.path.read_text())
    assert (kept["document"]["rev"], kept["applied_at"]) == (3, format_epoch(T0 + 60))


def test_an_equal_or_older_rev_is_never_applied_and_the_state_keeps_naming_the_current_one(store, caplog):
    station = Station(store)
    applied = station.receiver.receive(document(5, {"restrooms.interval_min": 30}))
    caplog.set_level(logging.DEBUG, logger="edge.fleet.receiver")
    assert station.receiver.receive(document(5, {"restrooms.interval_min": 30})) is None  # the retained copy
    assert station.receiver.receive(document(4, {"restrooms.interval_min": 1})) is None  # a replay
    assert station.receiver.receive(document(5, {"restrooms.interval_min": 2})) is None  # same rev, other settings
    assert station.intervals() == [30, 30] and station.receiver.state == applied and len(station.applied) == 1
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == ["ignored settings rev 4 for station a: rev 5 was applied here, only a higher rev is",
                      "ignored settings rev 5 for station a: rev 5 was applied here, only a higher rev is"]


def test_a_rejected_document_changes_nothing_and_says_why_by_key(store):
    station = Station(store)
    station.receiver.receive(document(1, {"restrooms.interval_min": 30}))
    kept = store.path.read_bytes()
    state = station.receiver.receive(document(2, {"restrooms.gentz.interval_min": 1, "restrooms.colour": "x",
                                                  "restrooms.interval_min": -1}))
    assert (state.rev, state.state, state.applied_rev) == (2, "rejected", 1)
    assert [e.path for e in state.errors] == ["restrooms.colour", "restrooms.gentz.interval_min", "restrooms.interval_min"]
    assert station.intervals() == [30, 30] and len(station.applied) == 1 and store.path.read_bytes() == kept
    assert station.receiver.receive(document(2, {"restrooms.gentz.interval_min": 1, "restrooms.colour": "x",
                                                 "restrooms.interval_min": -1})) is None  # same answer: not said again
    assert station.receiver.receive(document(3, {"restrooms.interval_min": 45})).state == "applied"  # a fix applies


def test_a_restarted_station_runs_by_what_it_applied_and_reports_it_as_applied_then(store):
    first = Station(store)
    applied = first.receiver.receive(document(7, {"restrooms.gents.interval_min": 15}))
    second = Station(store)  # a power cut later, the same outbox directory
    assert [r.interval_min for r in second.started.config.restrooms] == [60, 15]
    assert second.receiver.state == applied and second.applied == []  # applied before anything runs, not live
    assert second.receiver.receive(document(6, {"restrooms.interval_min": 1})) is None


def test_a_file_that_no_longer_fits_the_kept_document_runs_alone_and_still_refuses_replays(store):
    Station(store).receiver.receive(document(4, {"restrooms.gents.interval_min": 15}))
    only_ladies = FILE.model_copy(update={"restrooms": FILE.restrooms[:1]})  # gents removed from the file
    station = Station(store, only_ladies)
    assert station.started == Effective(only_ladies)
    state = station.receiver.state
    assert (state.rev, state.state, state.applied_rev, [e.path for e in state.errors]) == (
        4, "rejected", 0, ["restrooms.gents.interval_min"])
    assert station.receiver.receive(document(3, {"restrooms.interval_min": 1})) is None
    assert station.receiver.receive(document(5, {"restrooms.interval_min": 20})).applied_rev == 5


def test_a_document_that_cannot_be_kept_is_not_reported_applied(tmp_path):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    station = Station(AppliedStore(blocked / "a.fleet.json"))
    state = station.receiver.receive(document(1, {"restrooms.interval_min": 30}))
    assert (state.state, [e.path for e in state.errors]) == ("rejected", ["document"])
    assert station.intervals() == [60, 60] and station.applied == []


def test_settings_that_fail_to_apply_live_are_kept_and_said_to_need_a_restart(store):
    station = Station(store, fail=True)
    state = station.receiver.receive(document(1, {"restrooms.ladies.interval_min": 30}))
    assert (state.state, state.restart_needed) == ("applied", ["restrooms.ladies.interval_min"])


@pytest.mark.parametrize("payload", [b"", b"{not json", document(1, {"a": 1}).replace(b'"rev":1', b'"rev":0')])
def test_an_empty_or_malformed_payload_is_ignored(store, payload):
    station = Station(store)
    assert station.receiver.receive(payload) is None and station.receiver.state is None


def test_a_damaged_kept_file_is_ignored_with_an_error(store, caplog):
    store.path.write_text('{"document": {"rev": 1}}')
    assert store.load() is None
    assert "cannot be read" in caplog.text


def test_an_outbox_in_memory_keeps_the_document_in_memory():
    store = AppliedStore.beside(Path(":memory:"))
    station = Station(store)
    station.receiver.receive(document(2, {"restrooms.interval_min": 30}))
    assert store.path is None and store.load().document.rev == 2
