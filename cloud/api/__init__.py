"""The HQ HTTP API: ``create_app(config_or_db_path)`` builds a FastAPI app; nothing happens at import.

Every route lives under ``/api/v1`` and needs ``Authorization: Bearer <token>``; ``/`` and
``/static`` are left to the dashboard, which mounts itself through ``cloud.dashboard.mount(app)``.
``/metrics`` is Prometheus's (``cloud.api.scrape``): an ``hq`` token, the same header.

Every request gets a verdict from the caller's side of the line when it is the caller's fault: a bad
parameter is 422 with a short message that never echoes a long value back (nor fails to: ``NaN`` and
``1e400`` are not JSON), out of scope 403, missing 404.

``/openapi.json`` needs a token like the rest; ``/docs`` and ``/redoc`` are off. FastAPI's pages load
Swagger UI / ReDoc from a CDN (HQ intranets are often offline) and start them with an inline script,
which the Content-Security-Policy (``cloud.api.security``) forbids; the schema itself is the contract,
and any OpenAPI viewer can open it.
"""

import importlib.util
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry

from cloud.config import CollectorConfig
from cloud.database import pool
from cloud.store import open_db, utc_now

API_PREFIX = "/api/v1"


def create_app(
    source: CollectorConfig | str | Path, *, clock: Callable[[], datetime] = utc_now, dashboard: bool = True,
    prometheus: CollectorRegistry | None = None,
) -> FastAPI:
    """An app over the database named by a collector config or given as a path (created and migrated here).

    ``prometheus`` is what ``/metrics`` serves (the running collector's, with its ingest counters); without
    it, the figures read from the database alone."""
    from cloud.api import alerts, exports, fleet_config, followups, metrics, rankings, scrape, stations
    from cloud.api.deps import CurrentUser
    from cloud.api.security import SecurityHeaders

    config = source if isinstance(source, CollectorConfig) else CollectorConfig()
    target = config.database.target if isinstance(source, CollectorConfig) else source
    open_db(target).close()  # create and migrate once, before the first request
    app = FastAPI(
        title="Forecourt HQ API",
        version="1",
        description="Station status, service metrics, scores, rankings, alerts, follow-ups of bad ratings and fleet configuration. "
        "Times are RFC 3339 UTC.",
        docs_url=None, redoc_url=None, openapi_url=None,
    )
    app.add_middleware(SecurityHeaders, api_prefix=API_PREFIX + "/")
    app.add_exception_handler(RequestValidationError, invalid_request)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(user: CurrentUser) -> JSONResponse:
        return JSONResponse(app.openapi())

    app.state.connections = pool(target, size=config.database.pool_size)
    app.router.on_shutdown.append(app.state.connections.close)
    app.state.clock = clock
    app.state.config = config
    if prometheus is None:
        from cloud.prometheus import CollectorMetrics

        prometheus = CollectorMetrics(target, ingest=False).registry
    app.state.prometheus = prometheus
    app.include_router(scrape.router)
    for module in (stations, metrics, rankings, alerts, followups, exports, fleet_config):
        app.include_router(module.router, prefix=API_PREFIX)
    if dashboard and importlib.util.find_spec("cloud.dashboard") is not None:
        from cloud import dashboard as dashboard_module

        dashboard_module.mount(app)
    return app


def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming each bad parameter and what it should be; unlike FastAPI's default, the value the
    caller sent is not echoed (it may be 60 KB, or a float JSON cannot carry, which made that a 500)."""
    detail = [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", "invalid")),
         "type": str(error.get("type", "value_error"))}
        for error in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)
