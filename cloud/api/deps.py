"""Typed dependencies shared by the routers: the database, the caller, the clock, the config."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cloud.auth import Scope, User, authenticate
from cloud.config import CollectorConfig
from cloud.database import Database
from cloud.registry import normalise_region
from forecourt.protocol import STATION_ID, format_ts

_bearer = HTTPBearer(auto_error=False, description="A token from `forecourt users add`")


def get_db(request: Request) -> Iterator[Database]:
    """One connection per request, from the app's pool (SQLite: a new one; WAL lets it read while ingest writes)."""
    with request.app.state.connections.connection() as db:
        yield db


DbDep = Annotated[Database, Depends(get_db)]


def current_user(db: DbDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> User:
    unauthorized = HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized
    user = authenticate(db, credentials.credentials)
    if user is None:
        raise unauthorized
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def get_now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


Now = Annotated[datetime, Depends(get_now)]


def get_config(request: Request) -> CollectorConfig:
    return request.app.state.config


ConfigDep = Annotated[CollectorConfig, Depends(get_config)]


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # before any protocol timestamp
LATEST = datetime(3000, 1, 1, tzinfo=UTC)  # far from datetime's year-9999 edge, where arithmetic overflows
REGION_MAX = 255
TIME_MAX = 40
STATION_PATTERN = f"^{STATION_ID.pattern}$"


def shown(value: str, limit: int = 60) -> str:
    """A caller's value for an error message: quoted, and cut short so a 60 KB value is not echoed."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def parse_time(value: str | None, name: str) -> str | None:
    """A query time (RFC 3339, or a date) as a protocol timestamp, comparable with stored ones."""
    if value is None or value == "":
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except (ValueError, OverflowError):
        raise HTTPException(422, f"{name}={shown(value)} is not an RFC 3339 time like 2026-11-23T10:00:00Z") from None
    if not EARLIEST <= when < LATEST:
        raise HTTPException(422, f"{name}={shown(value)} is outside {EARLIEST:%Y-%m-%d} .. {LATEST:%Y-%m-%d}")
    return format_ts(when)


StartQ = Annotated[str | None, Query(max_length=TIME_MAX, description="RFC 3339 UTC, inclusive")]
EndQ = Annotated[str | None, Query(max_length=TIME_MAX, description="RFC 3339 UTC, exclusive")]
RegionQ = Annotated[str | None, Query(
    max_length=REGION_MAX, description="Region path, e.g. north/leeds; includes sub-regions (exact, case-sensitive)"
)]
StationQ = Annotated[str | None, Query(
    max_length=64, pattern=STATION_PATTERN, description="Station id: lower-case letters, digits and '-'"
)]
StationPath = Annotated[str, Path(
    max_length=64, pattern=STATION_PATTERN, description="Station id: lower-case letters, digits and '-'"
)]


def check_region(user: User, region: str | None) -> str | None:
    """The normalised region if the caller may see all of it; 403 otherwise."""
    if region is None:
        return None
    try:
        path = normalise_region(region)
    except ValueError:
        raise HTTPException(422, f"region={shown(region)} has an empty segment (expected e.g. 'north/leeds')") from None
    if not user.role.sees_region(path):
        raise HTTPException(403, f"region {shown(path)} is outside your scope ({user.role})")
    return path


def check_station(db: Database, user: User, station: str) -> dict:
    """The station's registry row if the caller may see it: 403 out of scope, 404 if HQ asks for nothing."""
    row = db.execute("SELECT id, region FROM stations WHERE id = ?", [station]).fetchone()
    if row is None:
        if user.role.kind == "hq":
            raise HTTPException(404, f"no station {shown(station)}")
        raise HTTPException(403, f"station {shown(station)} is outside your scope ({user.role})")
    if not user.role.sees_station(row[0], row[1]):
        raise HTTPException(403, f"station {shown(station)} is outside your scope ({user.role})")
    return {"id": row[0], "region": row[1]}


def request_scope(db: Database, user: User, *, region: str | None = None, station: str | None = None) -> Scope:
    """What this request may see: the caller's role narrowed to ``region`` and/or ``station``, each of
    which must lie inside the role (403 otherwise; 422 for a malformed region)."""
    if station is not None:
        check_station(db, user, station)
    return user.role.scope.within(region=check_region(user, region), station=station)
