"""The station page's HTTP layer: ``create_page_app(onsite)``; nothing happens at import.

Same-origin static files and a small JSON API, polled by the page (no websockets: a Pi on a shop's Wi-Fi
is better served by short requests that survive a flaky link). With ``[web] password_file`` every request
needs HTTP Basic ``forecourt:<password>``. Changing requests (install check, zones) must be JSON, which a
cross-site form cannot send without a CORS preflight this app never answers.
"""

import base64
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from edge.config import Ident, Point
from edge.web.metrics import station_registry
from edge.web.zone_file import ZoneEdit, save_zones
from forecourt.errors import ConfigError
from forecourt.settings import config_hash

STATIC = Path(__file__).parent / "static"
USER = "forecourt"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
SECRET_KEYS = {"password", "credentials_file", "key_file", "password_file"}


class InstallCheckRequest(BaseModel):
    active: bool = Field(description="true starts the install check, false ends it")


class ZoneIn(BaseModel):
    id: Ident
    polygon: list[Point] = Field(min_length=3, max_length=64)
    kind: Literal["zone", "pump_bay"] = "zone"


class ZonesRequest(BaseModel):
    zones: list[ZoneIn] = Field(min_length=1, max_length=64)


def read_password(path: Path | None) -> str | None:
    """The page's password: a file of one line, ``password`` or ``user:password`` (the user is ignored),
    that only its owner may read, as the MQTT credentials file."""
    if path is None:
        return None
    path = Path(path)
    try:
        mode, text = path.stat().st_mode, path.read_text().strip()
    except OSError as err:
        raise ConfigError(f"web.password_file: cannot read {path}: {err.strerror}") from None
    if mode & 0o077:
        raise ConfigError(f"web.password_file: {path} is accessible by group or others; run: chmod 600 {path}")
    password = text.partition(":")[2] if ":" in text else text
    if not password:
        raise ConfigError(f"web.password_file: {path} holds no password")
    return password


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("***" if k in SECRET_KEYS and v is not None else _masked(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def create_page_app(onsite: Any) -> FastAPI:
    password = read_password(onsite.config.web.password_file)

    def check(request: Request) -> None:
        if password is None:
            return
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, given = base64.b64decode(encoded).decode().partition(":")
        except Exception:
            user, given = "", ""
        if scheme.lower() != "basic" or not (secrets.compare_digest(user, USER) & secrets.compare_digest(given, password)):
            raise HTTPException(401, "the station page needs its password", headers={"WWW-Authenticate": 'Basic realm="Forecourt station"'})

    def json_only(request: Request) -> None:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise HTTPException(415, "send JSON (Content-Type: application/json)")

    app = FastAPI(title="Forecourt station", docs_url=None, redoc_url=None, openapi_url=None, dependencies=[Depends(check)])
    registry = station_registry(onsite.view)

    @app.middleware("http")
    async def headers(request: Request, call_next):  # noqa: ANN001, ANN202 - Starlette's signature
        response = await call_next(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/view")
    def view() -> dict[str, Any]:
        return onsite.view().as_json()

    @app.get("/api/config")
    def applied() -> dict[str, Any]:
        path = onsite.config_path
        return {
            "file": None if path is None else str(path),
            "hash": config_hash(onsite.config),
            "applied": _masked(onsite.config.model_dump(mode="json")),
            "zones": [z.model_dump(mode="json") for z in onsite.config.zones],
            "image_size": onsite.frames.size(),
        }

    @app.get("/api/camera.jpg")
    def camera(overlay: Annotated[bool, Query()] = True) -> Response:
        if onsite.config.camera is None:
            raise HTTPException(404, "this station has no camera")
        image = onsite.frames.jpeg(overlay=overlay)
        if image is None:
            raise HTTPException(503, "no picture yet; the camera's next frame brings one", headers={"Retry-After": "1"})
        return Response(image, media_type="image/jpeg")

    @app.get("/api/install-check")
    def install_state() -> dict[str, Any]:
        check_now = onsite.install_check
        return check_now.state() if check_now is not None else {"active": False, "inputs": []}

    @app.post("/api/install-check", dependencies=[Depends(json_only)])
    def install_switch(body: InstallCheckRequest) -> dict[str, Any]:
        if body.active:
            return onsite.begin_install_check().state()
        onsite.end_install_check()
        return {"active": False, "inputs": []}

    @app.put("/api/zones", dependencies=[Depends(json_only)])
    def zones(body: ZonesRequest) -> JSONResponse:
        path = onsite.config_path
        edits = [ZoneEdit(z.id, [tuple(p) for p in z.polygon], z.kind) for z in body.zones]
        if path is None:
            raise HTTPException(409, "the service was started without a config file to write to")
        try:
            saved = save_zones(path, edits)
        except ConfigError as err:
            return JSONResponse({"detail": str(err)}, status_code=422)
        except OSError as err:
            return JSONResponse({"detail": f"cannot write {path}: {err.strerror}; copy the zones by hand"}, status_code=409)
        return JSONResponse({"saved": str(saved.path), "backup": str(saved.backup), "hash": config_hash(saved.config),
                             "applies": "at the next restart of the service"})

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
