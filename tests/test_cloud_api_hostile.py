"""Every API route, every parameter, hostile values, through a real HTTP server over a real SQLite file.

The walk (tests/api_walk.py) enumerates the app's OpenAPI schema (so a new route or parameter is walked
without editing this file) and sends each path, query and body parameter a list of values a careless or
hostile client might send.
Two promises are checked on every response: the verdict is never a 5xx (a bad request is the caller's
422, a missing thing 404, an out-of-scope thing 403), and a ``region:east`` token never receives a row of
a station outside ``east`` - not ``East/...`` (SQL ``LIKE`` ignores ASCII case), not ``eastern/...``, not
``east_x/...`` (``_`` is a ``LIKE`` wildcard).
"""

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn

from cloud.api import create_app
from cloud.auth import add_user
from cloud.config import CollectorConfig
from cloud.ingest import Ingestor
from cloud.registry import import_stations, parse_csv
from cloud.rollups import run_rollups
from cloud.rules import run_rules
from cloud.store import open_db
from forecourt.broker import free_port
from tests.api_walk import answers, operations, request, walk
from tests.cloud_kit import cleaning, edge_alert, incoming, online, rating

NOW = datetime(2026, 11, 6, 12, 0, tzinfo=UTC)
INSIDE = {"oslo-sentrum": "east/oslo/sentrum", "east-hub": "east"}
OUTSIDE = {"caps-east": "East/bergen", "eastern-one": "eastern/tromso", "wild-east": "east_x/alta",
           "pct-east": "east%/narvik", "west-one": "west/stavanger"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "collector.db"
    db = open_db(path)
    stations = {**INSIDE, **OUTSIDE}
    import_stations(db, parse_csv("id,name,region\n" + "".join(f"{s},{s},{r}\n" for s, r in stations.items())), now=NOW)
    ingestor = Ingestor(db)
    at = NOW - timedelta(hours=3)
    for station in stations:
        ingestor.store([incoming(online(), station)], now=at)
        ingestor.store([incoming(rating(station, 1, at + timedelta(minutes=5), 4)),
                        incoming(cleaning(station, 2, at + timedelta(minutes=6))),
                        incoming(edge_alert(station, 3, at + timedelta(minutes=7), "kiosk_button_stuck", "open", "k1"))],
                       now=at + timedelta(minutes=7))
    run_rollups(db, NOW, CollectorConfig().goals)
    run_rules(db, CollectorConfig().alerts, NOW)
    tokens = {role: add_user(db, role.replace(":", "-"), role) for role in ("hq", "region:east", "station:oslo-sentrum")}
    db.close()
    app = create_app(path, clock=lambda: NOW, dashboard=True)
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.01)
    yield app, port, tokens
    uv.should_exit = True
    thread.join(15)


def test_the_walk_covers_every_route_and_parameter(server):
    app, _, _ = server
    documented = {path.removeprefix("/api/v1") for path in app.openapi()["paths"]}
    assert documented >= {
        "/me", "/regions", "/stations", "/stations/{station}", "/stations/{station}/events", "/metrics",
        "/rankings", "/alerts", "/alerts/{alert_id}/acknowledge", "/alerts/{alert_id}/resolve",
        "/export/events.csv", "/export/rollups.csv", "/dead-letters",
    }
    walked = {(method, path) for method, path, _, _ in operations(app.openapi())}
    cases = walk(app.openapi(), station="oslo-sentrum")
    print(f"{len(walked)} operations, {len(cases)} requests per token")
    assert {p for _, _, p, _, _ in cases} >= {"station", "region", "at", "period", "start", "end", "limit",
                                               "alert_id", "kind", "bucket", "state", "overdue", "body"}


@pytest.mark.parametrize("role", ["hq", "region:east", "station:oslo-sentrum"])
def test_no_hostile_parameter_gets_a_server_error_or_another_regions_rows(server, role):
    app, port, tokens = server
    errors, leaks, verdicts = [], [], Counter()
    for where, target, status, content in answers(port, app.openapi(), tokens[role], station="oslo-sentrum"):
        verdicts[status] += 1
        if status >= 500:
            errors.append(f"{status} {where}: {content[:200]!r}")
        if role != "hq" and 200 <= status < 300:
            text = content.decode("utf-8", "replace")
            leaks += [f"{station} in {where}" for station in OUTSIDE if station in text]
            if target.startswith("/api/v1/regions"):
                leaks += [f"{region} in {where}" for region in json.loads(text) if region not in ("east", "east/oslo",
                                                                                                  "east/oslo/sentrum")]
    print(f"{role}: {sum(verdicts.values())} requests, verdicts {dict(sorted(verdicts.items()))}")
    assert errors == [], f"{len(errors)} server errors, e.g.\n" + "\n".join(errors[:30])
    assert leaks == [], "\n".join(leaks[:30])


@pytest.mark.parametrize("path", ["/api/v1/stations", "/api/v1/rankings", "/api/v1/export/events.csv",
                                  "/api/v1/export/rollups.csv", "/api/v1/metrics?region=east", "/api/v1/alerts",
                                  "/api/v1/dead-letters", "/api/v1/regions"])
def test_a_region_token_sees_exactly_its_region(server, path):
    _, port, tokens = server
    status, content = request(port, "GET", path, tokens["region:east"])
    assert status == 200, content[:300]
    text = content.decode()
    assert [s for s in OUTSIDE if s in text] == []
    if "metrics" not in path and "dead-letters" not in path and "regions" not in path:
        assert [s for s in INSIDE if s in text] == list(INSIDE), "both stations inside east are listed"
    status, content = request(port, "GET", path, tokens["hq"])
    assert status == 200
    if "metrics" not in path and "dead-letters" not in path and "regions" not in path:
        assert all(s in content.decode() for s in OUTSIDE), "HQ sees every station"
