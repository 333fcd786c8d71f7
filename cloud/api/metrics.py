"""Metrics per bucket for a station or a region."""

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from cloud import rollups
from cloud.api.deps import CurrentUser, DbDep, EndQ, RegionQ, StartQ, check_region, check_station, parse_time
from cloud.api.schemas import Metric

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_model=list[Metric])
def metrics(
    db: DbDep, user: CurrentUser, station: str | None = None, region: RegionQ = None,
    bucket: Annotated[Literal["hour", "day", "month"], Query()] = "day", start: StartQ = None, end: EndQ = None,
) -> list[dict]:
    """Give ``station`` or ``region`` (HQ may omit both for the whole chain)."""
    if station is not None and region is not None:
        raise HTTPException(422, "give station or region, not both")
    if station is not None:
        check_station(db, user, station)
    elif region is None and user.role.kind != "hq":
        raise HTTPException(403, f"the whole chain is outside your scope ({user.role}); give station or region")
    path = check_region(user, region) if station is None else None
    return rollups.metrics(
        db, bucket=bucket, station=station, region=path, scope=user.role.station_sql("s.id", "s.region"),
        start=parse_time(start, "start"), end=parse_time(end, "end"),
    )
