"""Walking every HQ API route with hostile parameters over a real HTTP connection: the values, the cases
built from an OpenAPI schema (so a new route or parameter is walked without editing a test) and one request.

Used by tests/test_cloud_api_hostile.py (a database built for the walk) and tests/test_hostile_live.py
(the database a live collector filled from hostile MQTT traffic).
"""

import http.client
import json
import urllib.parse
from collections.abc import Iterator

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


def operations(schema: dict) -> list[tuple[str, str, list[dict], bool]]:
    """(method, path, parameters, has a body) for every operation an OpenAPI ``schema`` documents, then the extras."""
    found = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            found.append((method.upper(), path, operation.get("parameters", []), "requestBody" in operation))
    found += [("GET", path, [{"name": "asset", "in": "path"}] if "{" in path else [], False) for path in EXTRA]
    return found


def walk(schema: dict, *, station: str) -> list[tuple[str, str, str, str, bytes | None]]:
    """(method, target, parameter, case, body) for every operation x parameter x hostile value. A path parameter
    not under attack is ``station``, a real static asset, or for any other (``alert_id``, ``followup_id``) 1."""
    cases = []
    good = {"station": station, "asset": "style.css"}
    for method, path, params, has_body in operations(schema):
        defaults = {p["name"]: good.get(p["name"], "1") for p in params if p["in"] == "path"}
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


def answers(port: int, schema: dict, token: str, *, station: str) -> Iterator[tuple[str, str, int, bytes]]:
    """(where, target, status, body) of every request of :func:`walk`, sent to the API on ``port``."""
    for method, target, param, case, body in walk(schema, station=station):
        status, content = request(port, method, target, token, body)
        yield f"{method} {target[:120]} ({param}={case})", target, status, content
