"""Who am I, regions, stations (list and detail), a station's figures over a window and its raw events,
dead letters, poison hours."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from cloud import queries
from cloud.api.deps import (
    ConfigDep,
    CurrentUser,
    DbDep,
    EndQ,
    Now,
    RegionQ,
    StartQ,
    StationPath,
    StationQ,
    check_station,
    parse_time,
    request_scope,
)
from cloud.api.schemas import DeadLetter, Me, PoisonHour, Station, StationDetail, Summary
from cloud.fleet_store import chain_goals
from cloud.registry import all_regions

router = APIRouter(tags=["stations"])


@router.get("/me", response_model=Me)
def me(user: CurrentUser) -> dict:
    return {"name": user.name, "role": str(user.role)}


@router.get("/regions", response_model=list[str])
def regions(db: DbDep, user: CurrentUser) -> list[str]:
    """Region paths the caller may filter by (a station manager may filter by none)."""
    return [path for path in all_regions(db) if user.role.sees_region(path)]


@router.get("/stations", response_model=list[Station])
def list_stations(db: DbDep, user: CurrentUser, region: RegionQ = None) -> list[dict]:
    return queries.station_rows(db, request_scope(db, user, region=region))


@router.get("/stations/{station}", response_model=StationDetail)
def station_detail(station: StationPath, db: DbDep, user: CurrentUser, now: Now, config: ConfigDep) -> dict:
    check_station(db, user, station)
    return {**queries.station_detail(db, station, now), "goals": chain_goals(db, config.goals).model_dump()}


@router.get("/stations/{station}/summary", response_model=Summary)
def station_summary(
    station: StationPath, db: DbDep, user: CurrentUser, now: Now, start: StartQ = None, end: EndQ = None
) -> dict:
    """The station's figures over one window of whole hours (default: the 7 days up to the end of this hour),
    with the greeting and throughput histograms they come from."""
    check_station(db, user, station)
    return queries.summary(db, station, now=now, start=parse_time(start, "start"), end=parse_time(end, "end"))


@router.get("/stations/{station}/events", response_model=list[dict])
def station_events(
    station: StationPath,
    db: DbDep,
    user: CurrentUser,
    kind: Annotated[Literal["rating", "cleaning", "visit", "alert", "zone"] | None, Query()] = None,
    start: StartQ = None,
    end: EndQ = None,
    limit: Annotated[int, Query(ge=1, le=50_000)] = 5000,
) -> list[dict]:
    """Raw events as the station sent them, oldest first, each with ``received_at``."""
    check_station(db, user, station)
    return queries.station_events(
        db, station, kind=kind, start=parse_time(start, "start"), end=parse_time(end, "end"), limit=limit
    )


@router.get("/dead-letters", response_model=list[DeadLetter])
def dead_letters(
    db: DbDep, user: CurrentUser, station: StationQ = None, region: RegionQ = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> list[dict]:
    """Messages that could not be stored, newest first, with why; those with no station are HQ's only."""
    return queries.dead_letters(db, request_scope(db, user, region=region, station=station), limit)


@router.get("/poison-hours", response_model=list[PoisonHour])
def poison_hours(
    db: DbDep, user: CurrentUser, station: StationQ = None, region: RegionQ = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> list[dict]:
    """Station-hours whose rollup failed and is set aside, newest failure first, with the error."""
    return queries.poison_hours(db, request_scope(db, user, region=region, station=station), limit)
