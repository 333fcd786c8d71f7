"""HQ's layered settings: judging values, merging layers into documents, revs, the audit trail, rollback,
reported states and the rollout; the chain's goals. Real SQLite, no MQTT."""

from datetime import UTC, datetime, timedelta

import pytest

from cloud.auth import Scope
from cloud.config import CollectorConfig, GoalSettings
from cloud.fleet_config import (
    CHAIN,
    FleetError,
    Layer,
    check_value,
    merge,
    parse_assignment,
    parse_layer,
    replay,
    rollout_state,
    station_layers,
)
from cloud.fleet_rollout import rollout
from cloud.fleet_store import (
    chain_goals,
    change_settings,
    current_document,
    document_history,
    documents_after,
    effective,
    record_state,
    refresh_documents,
    rollback,
    station_history,
)
from cloud.ingest import Ingestor
from cloud.registry import StationEntry, auto_register, import_stations
from cloud.service import Jobs
from cloud.store import open_db
from forecourt.protocol import ConfigState, SettingError, format_ts
from tests.cloud_kit import incoming, visit

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
NORTH = Layer("region", "north")
LEEDS = Layer("region", "north/leeds")


@pytest.fixture
def db(database):
    database = open_db(database)
    import_stations(database, [
        StationEntry("leeds-1", "Leeds 1", "north/leeds"), StationEntry("york-1", "York 1", "north/york"),
        StationEntry("oslo-1", "Oslo 1", "south"),
    ], now=NOW)
    yield database
    database.close()


@pytest.mark.parametrize(("text", "parsed"), [
    ("restrooms.interval_min=60", ("restrooms.interval_min", 60)),
    ("restrooms.active_hours=06:00-22:00", ("restrooms.active_hours", "06:00-22:00")),
    ("zones.uniform_colour=null", ("zones.uniform_colour", None)),
    ("log_level=DEBUG", ("log_level", "DEBUG")),
    (" kiosks.thank_you_s = 2.5 ", ("kiosks.thank_you_s", 2.5)),
])
def test_assignments_parse_json_when_they_can_and_text_otherwise(text, parsed):
    assert parse_assignment(text) == parsed


@pytest.mark.parametrize(("layer", "key", "value", "says"), [
    (CHAIN, "restrooms.colour", 1, "restrooms.colour: unknown setting 'colour'"),
    (CHAIN, "restrooms.interval_min", 0, "restrooms.interval_min: Input should be greater than 0"),
    (CHAIN, "restrooms.active_hours", "6-22", "restrooms.active_hours: '6-22' is not 'HH:MM-HH:MM'"),
    (CHAIN, "password", "x", "password: unknown key"),
    (CHAIN, "goals.greet_s", -1, "goals.greet_s: Input should be greater than 0"),
    (CHAIN, "goals.speed", 1, "goals.speed: unknown goal 'speed'"),
    (NORTH, "goals.greet_s", 30, "goals.greet_s: goals are the chain's"),
    (CHAIN, "restrooms.interval_min", [60], "restrooms.interval_min: must be a single value"),
])
def test_a_refused_value_names_its_key(layer, key, value, says):
    with pytest.raises(FleetError, match=None) as err:
        check_value(layer, key, value)
    assert str(err.value).startswith(says), str(err.value)


def test_layers_merge_chain_then_regions_top_down_then_the_station():
    layers = {CHAIN: {"a": 1, "b": 1, "c": 1}, NORTH: {"b": 2, "c": 2}, LEEDS: {"c": 3},
              Layer("station", "leeds-1"): {"d": 4}}
    merged = merge(layers, station_layers("leeds-1", "north/leeds", registered=True))
    assert {k: (s.value, str(s.layer)) for k, s in merged.items()} == {
        "a": (1, "chain"), "b": (2, "region:north"), "c": (3, "region:north/leeds"), "d": (4, "station:leeds-1")}
    assert station_layers("new-1", "", registered=False) == [CHAIN]
    assert parse_layer("region: north/leeds/") == LEEDS
    with pytest.raises(FleetError, match="must be chain"):
        parse_layer("everyone")


def test_replay_and_rollout_state_are_plain_rules():
    assert replay([("a", 1, True), ("b", 2, True), ("a", None, False), ("b", 3, True)]) == {"b": 3}
    assert rollout_state(None, None, True) == "no_settings"
    assert rollout_state((2, "h2"), (2, "h2", "applied"), False) == "applied"
    assert rollout_state((2, "h2"), (2, "h2", "rejected"), True) == "rejected"
    assert rollout_state((3, "h3"), (2, "h2", "applied"), True) == "pending_online"
    assert rollout_state((3, "h3"), None, False) == "pending_offline"


def test_a_region_change_issues_a_new_rev_to_its_stations_only(db):
    first = change_settings(db, NORTH, values={"restrooms.interval_min": 60}, by="alice", now=NOW)
    assert first.issued == [("leeds-1", 1), ("york-1", 1)]
    assert current_document(db, "oslo-1") is None  # nothing set for it: it runs by its file
    again = change_settings(db, NORTH, values={"restrooms.interval_min": 60}, by="alice", now=NOW)
    assert (again.entries, again.issued) == ([], [])  # the same value: no change, no rev
    second = change_settings(db, CHAIN, values={"log_level": "DEBUG"}, by="bob", now=NOW + timedelta(minutes=1))
    assert sorted(second.issued) == [("leeds-1", 2), ("oslo-1", 1), ("york-1", 2)]
    document = current_document(db, "leeds-1")
    assert (document.rev, document.settings) == (2, {"log_level": "DEBUG", "restrooms.interval_min": 60})
    assert [d["rev"] for d in document_history(db, "leeds-1")] == [2, 1]
    shown = effective(db, "leeds-1")
    assert shown["settings"] == {"log_level": {"value": "DEBUG", "layer": "chain", "sent": True},
                                 "restrooms.interval_min": {"value": 60, "layer": "region:north", "sent": True}}
    assert [station for _, station, _ in documents_after(db)] == ["leeds-1", "oslo-1", "york-1"]


def test_a_refused_change_changes_nothing(db):
    change_settings(db, NORTH, values={"restrooms.interval_min": 60}, by="alice", now=NOW)
    with pytest.raises(FleetError) as err:
        change_settings(db, NORTH, values={"restrooms.interval_min": 45, "kiosks.low_scores": 9}, by="eve", now=NOW)
    assert str(err.value).startswith("kiosks.low_scores: Input should be less than or equal to 4")
    assert current_document(db, "leeds-1").settings == {"restrooms.interval_min": 60}
    assert len(station_history(db, "leeds-1")) == 1
    for layer, says in ((Layer("region", "nowhere"), "no registered station is in region"),
                        (Layer("station", "ghost"), "not in the registry")):
        with pytest.raises(FleetError, match=says):
            change_settings(db, layer, values={"log_level": "INFO"}, by="eve", now=NOW)
    with pytest.raises(FleetError, match="log_level: not set in region:north"):
        change_settings(db, NORTH, unset=["log_level"], by="eve", now=NOW)


def test_rollback_is_a_new_change_and_a_new_rev(db):
    a = change_settings(db, NORTH, values={"restrooms.interval_min": 60}, by="alice", now=NOW)
    change_settings(db, NORTH, values={"restrooms.interval_min": 30, "kiosks.thank_you_s": 1}, by="bob", now=NOW)
    back = rollback(db, a.entries[0]["id"], by="carol", now=NOW + timedelta(hours=1))
    assert current_document(db, "york-1").settings == {"restrooms.interval_min": 60}
    assert current_document(db, "york-1").rev == 3  # the settings of rev 1, under a rev never used before
    assert {(e["key"], e["old"], e["new"], e["user"]) for e in back.entries} == {
        ("restrooms.interval_min", 30, 60, "carol"), ("kiosks.thank_you_s", 1, None, "carol")}
    assert all(e["note"] == f"rollback to #{a.entries[0]['id']}" for e in back.entries)
    undone = rollback(db, a.entries[0]["id"], by="carol", now=NOW, before=True)
    assert current_document(db, "york-1").settings == {} and undone.issued == [("leeds-1", 4), ("york-1", 4)]


def test_a_rev_goes_above_what_a_station_reported_and_unregistered_ones_get_the_chain(db):
    record_state(db, "oslo-1", ConfigState(rev=7, hash="0" * 64, state="applied", applied_rev=7, at=format_ts(NOW)),
                 format_ts(NOW))  # e.g. HQ's database restored from before rev 7
    auto_register(db, ["stray-1"], now=NOW)
    change_settings(db, Layer("station", "oslo-1"), values={"log_level": "ERROR"}, by="alice", now=NOW)
    change_settings(db, CHAIN, values={"restrooms.interval_min": 90}, by="alice", now=NOW)
    assert current_document(db, "oslo-1").rev == 9
    assert current_document(db, "stray-1").settings == {"restrooms.interval_min": 90}
    db.execute("UPDATE stations SET region = 'north/leeds', auto_registered = 0 WHERE id = 'stray-1'")
    change_settings(db, NORTH, values={"kiosks.thank_you_s": 3}, by="alice", now=NOW)
    assert current_document(db, "stray-1").settings == {"kiosks.thank_you_s": 3, "restrooms.interval_min": 90}
    assert refresh_documents(db, NOW) == []


def test_the_rollout_says_applied_pending_and_rejected_with_reasons(db):
    change_settings(db, CHAIN, values={"restrooms.interval_min": 60}, by="alice", now=NOW)
    db.execute("UPDATE stations SET status = 'online' WHERE id IN ('leeds-1', 'york-1')")
    leeds, york = current_document(db, "leeds-1"), current_document(db, "york-1")
    at = format_ts(NOW)
    record_state(db, "leeds-1", ConfigState(rev=1, hash=leeds.hash, state="applied", applied_rev=1, at=at), at)
    record_state(db, "york-1", ConfigState(
        rev=1, hash=york.hash, state="rejected", applied_rev=0, at=at,
        errors=[SettingError(path="restrooms.interval_min", message="restrooms.r1.catch_up_min: 90 would flag ...")]), at)
    rows = {r["station"]: r for r in rollout(db, Scope())}
    assert {s: r["rollout"] for s, r in rows.items()} == {
        "leeds-1": "applied", "york-1": "rejected", "oslo-1": "pending_offline"}
    assert rows["york-1"]["errors"][0]["path"] == "restrooms.interval_min"
    assert [r["station"] for r in rollout(db, Scope(region="south"))] == ["oslo-1"]


def test_goals_come_from_the_chain_over_the_file(db):
    file_goals = GoalSettings(greet_s=60, min_visit_fps=2)
    assert chain_goals(db, file_goals) == file_goals
    change = change_settings(db, CHAIN, values={"goals.greet_s": 45}, by="alice", now=NOW)
    assert chain_goals(db, file_goals) == GoalSettings(greet_s=45, min_visit_fps=2)
    assert change.issued == []  # HQ's own key: no station hears of it


def test_the_rollup_job_judges_greetings_by_the_chains_goal(db):
    ingestor = Ingestor(db)
    first, second = NOW - timedelta(hours=3), NOW - timedelta(hours=2)
    ingestor.store([incoming(visit("oslo-1", 1, first, greet_s=40, dwell_s=200))], now=first)
    jobs = Jobs(CollectorConfig(), clock=lambda: NOW)  # the file's goal: 60 s
    jobs.run_once(db)
    change_settings(db, CHAIN, values={"goals.greet_s": 30}, by="alice", now=NOW)
    ingestor.store([incoming(visit("oslo-1", 2, second, greet_s=40, dwell_s=200))], now=second)
    jobs.run_once(db)
    within = dict(db.execute(
        "SELECT bucket, greet_within_goal FROM rollups WHERE station = 'oslo-1' AND period = 'hour' AND greet_eligible > 0"))
    assert within == {first.strftime("%Y-%m-%dT%H"): 1, second.strftime("%Y-%m-%dT%H"): 0}
