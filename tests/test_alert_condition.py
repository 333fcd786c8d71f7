"""An alert whose condition the station reported gone (``cleared_at``) is told apart from one still active
and from HQ's own findings: the API says ``condition``, filters by it, and it stays open for people to close."""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from cloud.api import create_app
from cloud.auth import add_user
from cloud.config import CollectorConfig
from cloud.ingest import Ingestor
from cloud.registry import import_stations, parse_csv
from cloud.rules import run_rules
from cloud.store import open_db
from forecourt.protocol import Status
from tests.cloud_kit import edge_alert, incoming, online

NOW = datetime(2026, 11, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
def api(database):
    db = open_db(database)
    import_stations(db, parse_csv("id,name,region\nleeds-01,Leeds,north/leeds\n"), now=NOW)
    ingestor = Ingestor(db)
    at = NOW - timedelta(hours=3)
    ingestor.store([incoming(online(), "leeds-01")], now=at)
    ingestor.store([
        incoming(edge_alert("leeds-01", 1, at + timedelta(minutes=1), "restroom_overdue", "open", "gents")),
        incoming(edge_alert("leeds-01", 2, at + timedelta(minutes=2), "restroom_overdue", "open", "ladies")),
    ], now=at + timedelta(minutes=2))
    run_rules(db, CollectorConfig().alerts, at + timedelta(minutes=30))
    ingestor.store([incoming(edge_alert("leeds-01", 3, at + timedelta(minutes=40), "restroom_overdue", "cleared", "gents"))],
                   now=at + timedelta(minutes=40))
    ingestor.store([incoming(Status(state="offline"), "leeds-01")], now=at + timedelta(minutes=50))  # HQ's finding
    run_rules(db, CollectorConfig().alerts, NOW)
    token = add_user(db, "hq", "hq")
    client = TestClient(create_app(database, clock=lambda: NOW, dashboard=False))
    return lambda **params: client.get("/api/v1/alerts", params=params, headers={"Authorization": f"Bearer {token}"})


def test_cleared_and_active_alerts_are_told_apart(api):
    alerts = {a["subject"]: a for a in api().json()}
    assert {s: (a["rule"], a["state"], a["condition"]) for s, a in alerts.items()} == {
        "gents": ("restroom_overdue", "open", "cleared"), "ladies": ("restroom_overdue", "open", "active"),
        "": ("station_offline", "open", "finding")}
    assert alerts["gents"]["cleared_at"] == "2026-11-06T09:40:00.000Z" and alerts["ladies"]["cleared_at"] is None


@pytest.mark.parametrize(("condition", "subjects"), [
    ("active", ["ladies"]), ("cleared", ["gents"]), ("finding", [""]), (None, ["", "gents", "ladies"])])
def test_alerts_filter_by_condition(api, condition, subjects):
    params = {"state": "open"} | ({"condition": condition} if condition else {})
    assert sorted(a["subject"] for a in api(**params).json()) == subjects


def test_an_unknown_condition_is_a_422(api):
    assert api(condition="gone").status_code == 422
