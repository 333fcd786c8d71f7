"""The HQ dashboard: static HTML/JS/CSS served by the collector at ``/`` and ``/static/...``.

Nothing is built at run time and nothing is loaded from a CDN (HQ intranets are often offline): the
pages and the vendored Chart.js live in ``cloud/static/``. The pages talk only to ``/api/v1`` with the
Bearer token the user logs in with, so the API's scoping is the dashboard's scoping.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX = STATIC_DIR / "index.html"


def mount(app: FastAPI) -> None:
    """Serve the dashboard from ``app``: ``/`` is the single page, ``/static`` its assets."""
    if not INDEX.is_file():
        raise FileNotFoundError(f"dashboard assets are missing: {INDEX} (a broken install?)")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        # The page is tiny and changes with each release; never let a browser keep a stale one.
        return FileResponse(INDEX, media_type="text/html", headers={"Cache-Control": "no-cache"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)
