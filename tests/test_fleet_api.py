"""The fleet configuration API under each role: who may change which layer, what each may read, the rollout."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from cloud.api import create_app
from cloud.auth import add_user
from cloud.fleet_store import current_document, record_state
from cloud.registry import import_stations, parse_csv
from cloud.store import open_db
from forecourt.protocol import ConfigState, format_ts

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
ROLES = {"hq": "hq", "north": "region:north", "leeds": "station:leeds-01"}


@pytest.fixture
def api(tmp_path):
    db = open_db(tmp_path / "collector.db")
    import_stations(db, parse_csv(
        "id,name,region\nleeds-01,Leeds,north/leeds\nyork-01,York,north/york\nbath-01,Bath,south/bath\n"), now=NOW)
    tokens = {name: add_user(db, name, role) for name, role in ROLES.items()}
    client = TestClient(create_app(tmp_path / "collector.db", clock=lambda: NOW, dashboard=False))
    yield client, tokens, db
    db.close()


def call(client, token, method, path, **kwargs):
    return client.request(method, f"/api/v1/fleet{path}", headers={"Authorization": f"Bearer {token}"}, **kwargs)


def put(client, token, layer, key, value):
    return call(client, token, "PUT", "/settings", json={"layer": layer, "key": key, "value": value})


@pytest.mark.parametrize(("who", "layer", "allowed"), [
    ("hq", "chain", True), ("hq", "region:south", True), ("north", "region:north", True),
    ("north", "region:north/leeds", True), ("north", "station:york-01", True), ("north", "chain", False),
    ("north", "region:south", False), ("north", "station:bath-01", False), ("leeds", "station:leeds-01", False),
    ("leeds", "region:north/leeds", False),
])
def test_who_may_change_which_layer(api, who, layer, allowed):
    client, tokens, db = api
    answer = put(client, tokens[who], layer, "restrooms.interval_min", 45)
    assert answer.status_code == (200 if allowed else 403), answer.text
    if allowed:
        assert answer.json()["entries"][0]["user"] == who


def test_a_refused_value_is_422_naming_the_key_and_changes_nothing(api):
    client, tokens, db = api
    assert put(client, tokens["north"], "region:north", "restrooms.interval_min", 60).status_code == 200
    for key, value, says in (("restrooms.interval_min", 0, "restrooms.interval_min: Input should be greater than 0"),
                             ("restrooms.smell", 1, "restrooms.smell: unknown setting 'smell'"),
                             ("restrooms.min_gap_min", 10**40, "could not be sent")):
        answer = put(client, tokens["north"], "region:north", key, value)
        assert answer.status_code == 422 and says in answer.json()["detail"], answer.text
    assert put(client, tokens["hq"], "region:nowhere", "log_level", "INFO").status_code == 422
    assert put(client, tokens["hq"], "everyone", "log_level", "INFO").status_code == 422
    assert current_document(db, "leeds-01").settings == {"restrooms.interval_min": 60}
    assert len(call(client, tokens["hq"], "GET", "/history").json()) == 1


def test_reading_layers_history_and_a_station(api):
    client, tokens, db = api
    put(client, tokens["hq"], "chain", "log_level", "INFO")
    put(client, tokens["hq"], "region:north", "restrooms.interval_min", 60)
    put(client, tokens["hq"], "region:south", "restrooms.interval_min", 30)
    put(client, tokens["hq"], "station:york-01", "kiosks.thank_you_s", 1)
    seen = {who: sorted({row["layer"] for row in call(client, tokens[who], "GET", "/layers").json()}) for who in ROLES}
    assert seen == {"hq": ["chain", "region:north", "region:south", "station:york-01"],
                    "north": ["chain", "region:north", "station:york-01"], "leeds": ["chain", "region:north"]}
    trail = call(client, tokens["leeds"], "GET", "/history").json()
    assert [(e["layer"], e["key"]) for e in trail] == [("region:north", "restrooms.interval_min"), ("chain", "log_level")]
    mine = call(client, tokens["leeds"], "GET", "/stations/leeds-01").json()
    assert (mine["rev"], mine["settings"]["restrooms.interval_min"]["layer"]) == (2, "region:north")
    assert [d["rev"] for d in mine["documents"]] == [2, 1]
    assert call(client, tokens["leeds"], "GET", "/stations/york-01").status_code == 403
    assert call(client, tokens["leeds"], "DELETE", "/settings", params={"layer": "chain", "key": "log_level"}).status_code == 403
    removed = call(client, tokens["hq"], "DELETE", "/settings", params={"layer": "chain", "key": "log_level"})
    assert removed.status_code == 200 and removed.json()["entries"][0]["unset"] is True


def test_the_rollout_and_a_rollback(api):
    client, tokens, db = api
    first = put(client, tokens["north"], "region:north", "restrooms.interval_min", 60).json()
    put(client, tokens["north"], "region:north", "restrooms.interval_min", 20)
    db.execute("UPDATE stations SET status = 'online' WHERE id = 'leeds-01'")
    document = current_document(db, "york-01")
    at = format_ts(NOW)
    record_state(db, "york-01", ConfigState(rev=document.rev, hash=document.hash, state="rejected", applied_rev=1, at=at,
                                            errors=[{"path": "restrooms.interval_min", "message": "too short here"}]), at)
    status = call(client, tokens["north"], "GET", "/rollout").json()
    assert status["counts"] == {"applied": 0, "rejected": 1, "pending_online": 1, "pending_offline": 0, "no_settings": 0}
    assert {r["station"]: r["rollout"] for r in status["stations"]} == {"leeds-01": "pending_online", "york-01": "rejected"}
    assert status["stations"][1]["errors"] == [{"path": "restrooms.interval_min", "message": "too short here"}]
    assert call(client, tokens["leeds"], "GET", "/rollout").json()["counts"]["pending_online"] == 1
    entry = first["entries"][0]["id"]
    assert call(client, tokens["leeds"], "POST", "/rollback", json={"entry": entry}).status_code == 403
    back = call(client, tokens["north"], "POST", "/rollback", json={"entry": entry})
    assert back.status_code == 200 and back.json()["issued"] == [["leeds-01", 3], ["york-01", 3]]
    assert call(client, tokens["hq"], "POST", "/rollback", json={"entry": 999}).status_code == 404


def test_the_chains_goals_are_hqs_and_reach_the_station_page(api):
    client, tokens, db = api
    assert put(client, tokens["north"], "chain", "goals.greet_s", 30).status_code == 403
    assert put(client, tokens["hq"], "region:north", "goals.greet_s", 30).status_code == 422
    assert put(client, tokens["hq"], "chain", "goals.greet_s", 30).status_code == 200
    detail = client.get("/api/v1/stations/leeds-01", headers={"Authorization": f"Bearer {tokens['leeds']}"}).json()
    assert detail["goals"] == {"greet_s": 30.0, "min_visit_fps": 2.0}
    assert current_document(db, "leeds-01") is None  # never sent to a station
