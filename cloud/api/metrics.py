"""Metrics per bucket for a station or a region."""

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from cloud import queries
from cloud.api.deps import CurrentUser, DbDep, EndQ, RegionQ, StartQ, StationQ, parse_time, request_scope
from cloud.api.schemas import Metric

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_model=list[Metric])
def metrics(
    db: DbDep, user: CurrentUser, station: StationQ = None, region: RegionQ = None,
    bucket: Annotated[Literal["hour", "day", "month"], Query()] = "day", start: StartQ = None, end: EndQ = None,
) -> list[dict]:
    """Give ``station`` or ``region`` (HQ may omit both for the whole chain)."""
    if station is not None and region is not None:
        raise HTTPException(422, "give station or region, not both")
    if station is None and region is None and user.role.kind != "hq":
        raise HTTPException(403, f"the whole chain is outside your scope ({user.role}); give station or region")
    scope = request_scope(db, user, region=region, station=station)
    return queries.metrics(db, scope, bucket=bucket, start=parse_time(start, "start"), end=parse_time(end, "end"))
