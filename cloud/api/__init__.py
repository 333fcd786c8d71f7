"""The HQ HTTP API: ``create_app(config_or_db_path)`` builds a FastAPI app; nothing happens at import.

Every route lives under ``/api/v1`` and needs ``Authorization: Bearer <token>``; ``/`` and
``/static`` are left to the dashboard, which mounts itself through ``cloud.dashboard.mount(app)``.
"""

import importlib.util
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI

from cloud.config import CollectorConfig
from cloud.store import open_db, utc_now

API_PREFIX = "/api/v1"


def create_app(
    source: CollectorConfig | str | Path, *, clock: Callable[[], datetime] = utc_now, dashboard: bool = True
) -> FastAPI:
    """An app over the database named by a collector config or given as a path (created and migrated here)."""
    from cloud.api import alerts, exports, metrics, rankings, stations

    config = source if isinstance(source, CollectorConfig) else CollectorConfig()
    db_path = Path(config.database.path if isinstance(source, CollectorConfig) else source)
    open_db(db_path).conn.close()  # create and migrate once, before the first request
    app = FastAPI(
        title="Forecourt HQ API",
        version="1",
        description="Station status, service metrics, scores, rankings and alerts. Times are RFC 3339 UTC.",
    )
    app.state.db_path = str(db_path)
    app.state.clock = clock
    app.state.config = config
    for module in (stations, metrics, rankings, alerts, exports):
        app.include_router(module.router, prefix=API_PREFIX)
    if dashboard and importlib.util.find_spec("cloud.dashboard") is not None:
        from cloud import dashboard as dashboard_module

        dashboard_module.mount(app)
    return app
