"""Every endpoint family under each role: 401 without a token, 403 out of scope, only the scope's rows inside."""

import csv
import io
import re
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from cloud.api import create_app
from cloud.api.security import CONTENT_SECURITY_POLICY
from cloud.auth import NOTHING, Scope, add_user
from cloud.config import CollectorConfig
from cloud.ingest import Incoming, Ingestor
from cloud.queries import scope_sql
from cloud.registry import import_stations, parse_csv
from cloud.rollups import run_rollups
from cloud.rules import run_rules
from cloud.store import open_db
from tests.cloud_kit import cleaning, edge_alert, incoming, online, rating

NOW = datetime(2026, 11, 6, 12, 0, tzinfo=UTC)
ROLES = {"hq": "hq", "north": "region:north", "leeds-area": "region:north/leeds", "leeds": "station:leeds-01",
         "bath": "station:bath-01"}
ENDPOINTS = [
    "/api/v1/me", "/api/v1/regions", "/api/v1/stations", "/api/v1/stations/leeds-01",
    "/api/v1/stations/leeds-01/events", "/api/v1/metrics?station=leeds-01", "/api/v1/rankings", "/api/v1/alerts",
    "/api/v1/export/events.csv", "/api/v1/export/rollups.csv", "/api/v1/dead-letters", "/api/v1/poison-hours",
]


@pytest.fixture
def api(tmp_path):
    db = open_db(tmp_path / "collector.db")
    import_stations(db, parse_csv(
        "id,name,region\nleeds-01,Leeds,north/leeds\nyork-01,York,north/york\nbath-01,Bath,south/bath\n"
    ), now=NOW)
    ingestor = Ingestor(db)
    at = NOW - timedelta(hours=3)
    for station in ("leeds-01", "york-01", "bath-01"):
        ingestor.store([incoming(online(), station)], now=at)
        ingestor.store([incoming(rating(station, 1, at + timedelta(minutes=5), 4)),
                        incoming(cleaning(station, 2, at + timedelta(minutes=6)))], now=at + timedelta(minutes=6))
    ingestor.store([incoming(edge_alert("leeds-01", 3, at + timedelta(minutes=10), "kiosk_button_stuck", "open", "k1")),
                    incoming(edge_alert("bath-01", 3, at + timedelta(minutes=10), "kiosk_button_stuck", "open", "k2")),
                    Incoming("forecourt/v1/leeds-01/event/rating", b"not json"),
                    Incoming("forecourt/v1/york-01/health", b"[]"),
                    Incoming("somewhere/else", b"?")], now=at + timedelta(minutes=10))
    run_rollups(db, NOW, CollectorConfig().goals)
    run_rules(db, CollectorConfig().alerts, NOW)
    tokens = {name: add_user(db, name, role) for name, role in ROLES.items()}
    clock = [NOW]
    client = TestClient(create_app(tmp_path / "collector.db", clock=lambda: clock[0], dashboard=False))
    return client, tokens, clock


def get(client, token, path, **params):
    return client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_endpoint_needs_a_valid_token(api, path):
    client, _, _ = api
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get(path, headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.post("/api/v1/alerts/1/resolve", json={"comment": "x"}).status_code == 401


def test_me_regions_and_station_lists_follow_the_role(api):
    client, tokens, _ = api
    assert get(client, tokens["leeds"], "/api/v1/me").json() == {"name": "leeds", "role": "station:leeds-01"}
    assert get(client, tokens["hq"], "/api/v1/regions").json() == ["north", "north/leeds", "north/york", "south",
                                                                   "south/bath"]
    assert get(client, tokens["north"], "/api/v1/regions").json() == ["north", "north/leeds", "north/york"]
    assert get(client, tokens["leeds"], "/api/v1/regions").json() == []

    def ids(name, **params):
        response = get(client, tokens[name], "/api/v1/stations", **params)
        return response.json() if response.status_code != 200 else [s["id"] for s in response.json()]

    assert ids("hq") == ["leeds-01", "york-01", "bath-01"]
    assert ids("hq", region="south") == ["bath-01"]
    assert ids("north") == ["leeds-01", "york-01"]
    assert ids("north", region="north/york") == ["york-01"]
    assert ids("leeds-area") == ["leeds-01"]
    assert ids("leeds") == ["leeds-01"]
    for name, region in (("north", "south"), ("leeds-area", "north"), ("leeds", "north/leeds"), ("north", "")):
        assert get(client, tokens[name], "/api/v1/stations", region=region).status_code == 403, (name, region)
    (leeds,) = get(client, tokens["leeds"], "/api/v1/stations").json()
    assert leeds == {"id": "leeds-01", "name": "Leeds", "region": "north/leeds", "status": "online",
                     "status_at": "2026-11-06T09:00:00.000Z", "last_seen": "2026-11-06T09:10:00.000Z",
                     "version": "1.0", "auto_registered": False, "open_alerts": 1}


def test_station_detail_and_events_are_scoped(api):
    client, tokens, _ = api
    for name, station, code in (("leeds", "leeds-01", 200), ("leeds", "york-01", 403), ("leeds-area", "york-01", 403),
                                ("north", "york-01", 200), ("bath", "leeds-01", 403), ("hq", "nowhere", 404),
                                ("leeds", "nowhere", 403)):
        assert get(client, tokens[name], f"/api/v1/stations/{station}").status_code == code, (name, station)
        assert get(client, tokens[name], f"/api/v1/stations/{station}/events").status_code == code, (name, station)
    detail = get(client, tokens["leeds"], "/api/v1/stations/leeds-01").json()
    assert detail["restrooms"] == [{"restroom": "r1", "last_checkin": "2026-11-06T09:06:00.000Z",
                                    "since_s": 10440.0, "overdue": False}]
    assert (detail["seq_gaps"], detail["last_seq"], detail["health"]) == ([], 3, None)
    events = get(client, tokens["leeds"], "/api/v1/stations/leeds-01/events", kind="rating").json()
    assert [(e["kind"], e["seq"], e["score"], e["received_at"]) for e in events] == [
        ("rating", 1, 4, "2026-11-06T09:06:00.000Z")
    ]
    window = get(client, tokens["hq"], "/api/v1/stations/leeds-01/events",
                 start="2026-11-06T09:06:00Z", end="2026-11-06T09:10:00Z").json()
    assert [e["seq"] for e in window] == [2]
    assert get(client, tokens["hq"], "/api/v1/stations/leeds-01/events", start="yesterday").status_code == 422


def test_metrics_and_rankings_are_scoped(api):
    client, tokens, _ = api
    for name, params, code in (
        ("leeds", {"station": "leeds-01"}, 200), ("leeds", {"station": "york-01"}, 403), ("leeds", {}, 403),
        ("leeds", {"region": "north"}, 403), ("north", {"region": "north"}, 200), ("north", {}, 403),
        ("leeds-area", {"region": "north"}, 403), ("hq", {}, 200), ("hq", {"station": "a", "region": "b"}, 422),
    ):
        assert get(client, tokens[name], "/api/v1/metrics", **params).status_code == code, (name, params)
    (day,) = get(client, tokens["north"], "/api/v1/metrics", region="north", bucket="day").json()
    (chain,) = get(client, tokens["hq"], "/api/v1/metrics", bucket="day").json()
    assert (day["bucket"], day["ratings"]["4"], day["cleanings"]) == ("2026-11-06T00:00:00.000Z", 2, 2)
    assert (chain["ratings"]["4"], chain["cleanings"]) == (3, 3)

    def ranked(name, **params):
        response = get(client, tokens[name], "/api/v1/rankings", period="month", at="2026-11", **params)
        return response.status_code if response.status_code != 200 else [r["station"] for r in response.json()]

    assert sorted(ranked("hq")) == ["bath-01", "leeds-01", "york-01"]
    assert sorted(ranked("north")) == ["leeds-01", "york-01"]
    assert ranked("leeds") == ["leeds-01"]
    assert ranked("north", region="south") == 403
    assert ranked("leeds", region="north") == 403
    assert get(client, tokens["hq"], "/api/v1/rankings", period="week", at="2026-W99").status_code == 422
    assert get(client, tokens["hq"], "/api/v1/rankings", period="week", at="2026-W45").status_code == 200


def test_alerts_are_scoped_and_follow_their_lifecycle(api):
    client, tokens, clock = api
    listing = {name: get(client, tokens[name], "/api/v1/alerts").json() for name in ROLES}
    assert [(a["station"], a["rule"], a["subject"]) for a in listing["hq"]] == [
        ("bath-01", "stuck_button", "k2"), ("leeds-01", "stuck_button", "k1")
    ]
    assert [a["station"] for a in listing["leeds"]] == ["leeds-01"]
    assert [a["station"] for a in listing["north"]] == ["leeds-01"]
    assert [a["station"] for a in listing["bath"]] == ["bath-01"]
    assert get(client, tokens["bath"], "/api/v1/alerts", station="leeds-01").status_code == 403
    assert get(client, tokens["north"], "/api/v1/alerts", region="south").status_code == 403
    leeds_alert = listing["leeds"][0]["id"]

    def post(name, alert, action, comment):
        return client.post(f"/api/v1/alerts/{alert}/{action}", json={"comment": comment},
                           headers={"Authorization": f"Bearer {tokens[name]}"})

    assert post("bath", leeds_alert, "acknowledge", "not mine").status_code == 403
    clock[0] = NOW + timedelta(hours=1)
    acked = post("leeds", leeds_alert, "acknowledge", "engineer called").json()
    assert (acked["state"], acked["acknowledged_by"], acked["acknowledged_at"], acked["comment"]) == (
        "acknowledged", "leeds", "2026-11-06T13:00:00.000Z", "engineer called")
    assert post("leeds", leeds_alert, "acknowledge", "again").status_code == 409
    # Opened Friday 09:10 -> due Wednesday 09:10: overdue from then on while unresolved.
    clock[0] = datetime(2026, 11, 11, 9, 11, tzinfo=UTC)
    overdue = get(client, tokens["hq"], "/api/v1/alerts", overdue="true").json()
    assert [(a["station"], a["due_at"], a["overdue"]) for a in overdue] == [
        ("bath-01", "2026-11-11T09:10:00.000Z", True), ("leeds-01", "2026-11-11T09:10:00.000Z", True)
    ]
    resolved = post("north", leeds_alert, "resolve", "kiosk replaced").json()
    assert (resolved["state"], resolved["resolved_by"], resolved["comment"], resolved["ack_comment"], resolved["overdue"]) == (
        "resolved", "north", "kiosk replaced", "engineer called", False)
    assert post("hq", leeds_alert, "resolve", "twice").status_code == 409
    assert post("hq", 9999, "resolve", "none").status_code == 404
    assert [a["station"] for a in get(client, tokens["hq"], "/api/v1/alerts", state="open").json()] == ["bath-01"]


def test_exports_and_dead_letters_are_scoped(api):
    client, tokens, _ = api

    def rows(name, path, **params):
        response = get(client, tokens[name], path, **params)
        if response.status_code != 200:
            return response.status_code
        return list(csv.DictReader(io.StringIO(response.text)))

    assert sorted({r["station"] for r in rows("hq", "/api/v1/export/events.csv")}) == ["bath-01", "leeds-01", "york-01"]
    assert {r["station"] for r in rows("leeds", "/api/v1/export/events.csv")} == {"leeds-01"}
    assert [r["kind"] for r in rows("leeds", "/api/v1/export/events.csv", kind="rating")] == ["rating"]
    assert rows("leeds", "/api/v1/export/events.csv", station="york-01") == 403
    assert rows("north", "/api/v1/export/events.csv", region="south") == 403
    assert {r["station"] for r in rows("north", "/api/v1/export/rollups.csv", bucket="hour")} == {"leeds-01", "york-01"}
    assert rows("bath", "/api/v1/export/rollups.csv", region="north") == 403

    def letters(name, **params):
        response = get(client, tokens[name], "/api/v1/dead-letters", **params)
        return response.status_code if response.status_code != 200 else sorted(d["topic"] for d in response.json())

    assert letters("hq") == ["forecourt/v1/leeds-01/event/rating", "forecourt/v1/york-01/health", "somewhere/else"]
    assert letters("north") == ["forecourt/v1/leeds-01/event/rating", "forecourt/v1/york-01/health"]
    assert letters("leeds") == ["forecourt/v1/leeds-01/event/rating"]
    assert letters("bath") == []
    assert letters("leeds", station="york-01") == 403
    (letter,) = get(client, tokens["leeds"], "/api/v1/dead-letters").json()
    assert (letter["reason"], letter["payload"], letter["size"]) == (
        "payload is not JSON: Expecting value at line 1 column 1", "not json", 8)


def test_metrics_carry_each_restrooms_figures_and_ratings_by_reason(api):
    client, tokens, _ = api
    [day] = get(client, tokens["leeds"], "/api/v1/metrics", station="leeds-01", bucket="day").json()
    assert day["restrooms"] == [{"restroom": "r1", "cleanings": 1, "flagged": 0, "overdue_min": 0.0,
                                 "compliance": 1.0, "longest_gap_min": None}]
    assert day["ratings_by_reason"] == {}  # the one rating (4 of 5) had no reason


def test_poison_hours_are_listed_within_scope(api, tmp_path):
    client, tokens, _ = api
    db = open_db(tmp_path / "collector.db")
    db.execute("INSERT INTO events (id, station, kind, ts, seq, received_at, payload) VALUES (?,?,?,?,?,?,?)",
               ["broken-01", "york-01", "rating", "2026-11-06T10:40:00.000Z", 9, "2026-11-06T10:40:00.000Z", "{"])
    db.execute("INSERT INTO dirty (station, hour) VALUES ('york-01', '2026-11-06T10')")
    run_rollups(db, NOW, CollectorConfig().goals)
    db.close()

    def hours(name, **params):
        response = get(client, tokens[name], "/api/v1/poison-hours", **params)
        return response.status_code if response.status_code != 200 else [(p["station"], p["hour"]) for p in response.json()]

    assert hours("hq") == hours("north") == [("york-01", "2026-11-06T10")]
    assert hours("leeds-area") == hours("bath") == []
    assert hours("leeds", station="york-01") == 403
    [york] = get(client, tokens["north"], "/api/v1/metrics", station="york-01", bucket="hour",
                 start="2026-11-06T10:00:00.000Z", end="2026-11-06T11:00:00.000Z").json()
    assert york["coverage"]["poisoned_hours"] == 1


def test_openapi_lists_the_contract_to_a_caller_with_a_token(api):
    client, tokens, _ = api
    assert client.get("/openapi.json").status_code == 401
    assert client.get("/openapi.json", headers={"Authorization": "Bearer wrong"}).status_code == 401
    paths = get(client, tokens["leeds"], "/openapi.json").json()["paths"]
    assert {p.removeprefix("/api/v1") for p in paths} >= {
        "/me", "/regions", "/stations", "/stations/{station}", "/stations/{station}/events", "/metrics",
        "/rankings", "/alerts", "/alerts/{alert_id}/acknowledge", "/alerts/{alert_id}/resolve",
        "/export/events.csv", "/export/rollups.csv", "/dead-letters", "/poison-hours",
    }


def test_docs_pages_are_off(api):
    client, tokens, _ = api
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert client.get(path).status_code == 404, path
        assert get(client, tokens["hq"], path).status_code == 404, path


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/stations", "/api/v1/nowhere", "/openapi.json", "/",
                                  "/static/style.css", "/static/js/app.js", "/api/v1/rankings?at=0000-01"])
@pytest.mark.parametrize("who", ["nobody", "hq"])
def test_every_response_carries_the_security_headers(tmp_path, path, who):
    db = open_db(tmp_path / "collector.db")
    token = add_user(db, "hq", "hq")
    client = TestClient(create_app(tmp_path / "collector.db"))
    response = client.get(path, headers={"Authorization": f"Bearer {token}"} if who == "hq" else {})
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY and "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert (response.headers["x-content-type-options"], response.headers["x-frame-options"],
            response.headers["referrer-policy"]) == ("nosniff", "DENY", "no-referrer")
    if path.startswith("/api/"):
        assert response.headers["cache-control"] == "no-store"


def test_the_dashboard_has_no_inline_script_or_style_for_the_csp_to_block():
    from cloud.dashboard import INDEX, STATIC_DIR

    page = INDEX.read_text()
    assert "<style" not in page and not re.search(r"\sstyle=|\son[a-z]+=|javascript:", page)
    assert all(tag.count("src=") == 1 for tag in page.split("<script")[1:]), "every script is a file"
    for script in (STATIC_DIR / "js").rglob("*.js"):
        text = script.read_text()
        assert "innerHTML" not in text and "eval(" not in text and "new Function" not in text, script


@pytest.mark.parametrize("scope, station, region, covered", [
    (Scope(), "a", "", True),
    (Scope(), "a", "East/x", True),
    (Scope(region="east"), "a", "east", True),
    (Scope(region="east"), "a", "east/oslo/sentrum", True),
    (Scope(region="east"), "a", "East/oslo", False),
    (Scope(region="east"), "a", "eastern/oslo", False),
    (Scope(region="east"), "a", "east_x", False),
    (Scope(region="east"), "a", "", False),
    (Scope(region="east/oslo"), "a", "east", False),
    (Scope(region="e%st"), "a", "east", False),
    (Scope(station="a"), "a", "anywhere", True),
    (Scope(station="a"), "b", "anywhere", False),
    (Scope(region="east", station="a"), "a", "west", False),
    (NOTHING, "a", "", False),
])
def test_a_scope_covers_exact_path_prefixes_alike_in_python_and_sql(scope, station, region, covered):
    assert scope.covers(station, region) is covered
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE stations (id TEXT, region TEXT)")
    conn.execute("INSERT INTO stations VALUES (?, ?)", [station, region])
    where, params = scope_sql(scope, id_column="id", region_column="region")
    assert conn.execute(f"SELECT count(*) FROM stations WHERE {where}", params).fetchone()[0] == int(covered)
    assert "LIKE" not in where.upper()


def test_a_scope_narrows_and_never_widens():
    east = Scope(region="east")
    assert east.within(region="east/oslo") == Scope(region="east/oslo")
    assert east.within(region="") == east  # asking for the chain gives the scope, not the chain
    assert east.within(region="eastern") == NOTHING and east.within(region="East") == NOTHING
    assert east.within(station="a") == Scope(region="east", station="a")
    assert Scope(station="a").within(station="b") == NOTHING
    assert Scope(station="a").within(region="x") == Scope(region="x", station="a")  # and still only a
    assert (east.covers_region("east/oslo"), east.covers_region("east"), east.covers_region("eastern"),
            east.covers_region(""), Scope().covers_region(""), Scope(station="a").covers_region("")) == (
        True, True, False, False, True, False)
