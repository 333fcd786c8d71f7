"""Every API route, every parameter, hostile values, through a real HTTP server over a real SQLite file.

The walk enumerates ``app.routes`` (so a new route or parameter is walked without editing this file) and
sends each path, query and body parameter a list of values a careless or hostile client might send.
Two promises are checked on every response: the verdict is never a 5xx (a bad request is the caller's
422, a missing thing 404, an out-of-scope thing 403), and a ``region:east`` token never receives a row of
a station outside ``east`` - not ``East/...`` (SQL ``LIKE`` ignores ASCII case), not ``eastern/...``, not
``east_x/...`` (``_`` is a ``LIKE`` wildcard).
"""

import http.client
import json
import threading
import time
import urllib.parse
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
from tests.cloud_kit import cleaning, edge_alert, incoming, online, rating

NOW = datetime(2026, 11, 6, 12, 0, tzinfo=UTC)
INSIDE = {"oslo-sentrum": "east/oslo/sentrum", "east-hub": "east"}
OUTSIDE = {"caps-east": "East/bergen", "eastern-one": "eastern/tromso", "wild-east": "east_x/alta",
           "pct-east": "east%/narvik", "west-one": "west/stavanger"}
RAW = object()  # marks a value sent as-is, not percent-encoded (bad encodings must reach the server intact)
HOSTILE: list[tuple[str, object]] = [
    ("empty", ""),
    ("60KB", "a" * 60_000),
    ("60KB-path", "east/" * 12_000),
    ("1KB", "b" * 1_000),
    ("1KB-path", "east/" * 200),
    ("year-0", "0000-01"),
    ("year-1", "0001-01"),
    ("year-9999", "9999-12"),
    ("week-0", "0001-W01"),
    ("week-9999", "9999-W52"),
    ("time-0", "0001-01-01T00:00:00Z"),
    ("time-overflow", "9999-12-31T23:59:59-23:59"),
    ("minus-1", "-1"),
    ("zero", "0"),
    ("1e400", "1e400"),
    ("nan", "NaN"),
    ("huge-int", "9" * 40),
    ("huge-negative", "-" + "9" * 40),
    ("int64-edge", str(2**63)),
    ("surrogate", (RAW, "%ED%A0%80")),
    ("bad-percent", (RAW, "%ZZ%")),
    ("nul", "\x00"),
    ("dotdot", "../"),
    ("dotdot-deep", "../../../etc/passwd"),
    ("sql", "' OR 1=1 --"),
    ("like", "%"),
    ("like-underscore", "east_x"),
    ("unicode", "Ø東京/ß\u202e"),
    ("case", "East"),
    ("prefix", "eastern"),
    ("slashes", "//"),
]


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
    db.conn.close()
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


OVERSIZE = 16 * 1024  # h11's default limit on a request head: uvicorn refuses a longer one before the app
REFUSED = 0  # the verdict of a request uvicorn refused that way: 400, or a reset while the client still sends


def request(port: int, method: str, target: str, token: str | None, body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, target, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    except (ConnectionResetError, BrokenPipeError):
        # Whether h11 sees a 60 KB request line whole (and hands it to the app, which says 422) or in
        # pieces (and refuses it, closing while the client still sends) depends on TCP; both are refusals.
        if len(target) > OVERSIZE:
            return REFUSED, b""
        raise
    finally:
        conn.close()


def encoded(value: object) -> str:
    if isinstance(value, tuple) and value[0] is RAW:
        return value[1]
    return urllib.parse.quote(str(value), safe="")


EXTRA = ["/", "/openapi.json", "/docs", "/redoc", "/static/{asset}"]  # not in the schema, walked all the same


def operations(app) -> list[tuple[str, str, list[dict], bool]]:
    """(method, path, parameters, has a body) for every operation the app documents, then the extras."""
    found = []
    for path, methods in app.openapi()["paths"].items():
        for method, operation in methods.items():
            found.append((method.upper(), path, operation.get("parameters", []), "requestBody" in operation))
    found += [("GET", path, [{"name": "asset", "in": "path"}] if "{" in path else [], False) for path in EXTRA]
    return found


def walk(app) -> list[tuple[str, str, str, str, bytes | None]]:
    """(method, target, parameter, case, body) for every operation x parameter x hostile value."""
    cases = []
    good = {"station": "oslo-sentrum", "alert_id": "1", "asset": "style.css"}
    for method, path, params, has_body in operations(app):
        defaults = {p["name"]: good[p["name"]] for p in params if p["in"] == "path"}
        body = json.dumps({"comment": "checked"}).encode() if has_body else None
        cases.append((method, path.format(**defaults), "-", "plain", body))
        for name, value in HOSTILE:
            for param in params:
                if param["in"] == "path":
                    target = path.format(**{**defaults, param["name"]: encoded(value)})
                elif param["in"] == "query":
                    target = path.format(**defaults) + f"?{param['name']}={encoded(value)}"
                else:
                    continue
                cases.append((method, target, param["name"], name, body))
            if has_body:
                text = value[1] if isinstance(value, tuple) else value
                cases.append((method, path.format(**defaults), "body.comment", name,
                              json.dumps({"comment": text}).encode()))
                cases.append((method, path.format(**defaults), "body", name, text.encode("utf-8", "replace")))
    return cases


def test_the_walk_covers_every_route_and_parameter(server):
    app, _, _ = server
    documented = {path.removeprefix("/api/v1") for path in app.openapi()["paths"]}
    assert documented >= {
        "/me", "/regions", "/stations", "/stations/{station}", "/stations/{station}/events", "/metrics",
        "/rankings", "/alerts", "/alerts/{alert_id}/acknowledge", "/alerts/{alert_id}/resolve",
        "/export/events.csv", "/export/rollups.csv", "/dead-letters",
    }
    walked = {(method, path) for method, path, _, _ in operations(app)}
    cases = walk(app)
    print(f"{len(walked)} operations, {len(cases)} requests per token")
    assert {p for _, _, p, _, _ in cases} >= {"station", "region", "at", "period", "start", "end", "limit",
                                               "alert_id", "kind", "bucket", "state", "overdue", "body"}


@pytest.mark.parametrize("role", ["hq", "region:east", "station:oslo-sentrum"])
def test_no_hostile_parameter_gets_a_server_error_or_another_regions_rows(server, role):
    app, port, tokens = server
    errors, leaks, verdicts = [], [], {}
    for method, target, param, case, body in walk(app):
        status, content = request(port, method, target, tokens[role], body)
        verdicts[status] = verdicts.get(status, 0) + 1
        where = f"{method} {target[:120]} ({param}={case})"
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
