"""CSV exports of raw events and rollups, scoped like everything else."""

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from cloud import queries
from cloud.api.deps import CurrentUser, DbDep, EndQ, RegionQ, StartQ, StationQ, parse_time, request_scope

router = APIRouter(tags=["export"])


def _csv(header: list[str], rows: Iterator[tuple], filename: str) -> StreamingResponse:
    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(lines(), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/export/events.csv")
def events_csv(
    db: DbDep, user: CurrentUser, station: StationQ = None, region: RegionQ = None,
    kind: Annotated[Literal["rating", "cleaning", "visit", "alert", "zone"] | None, Query()] = None,
    start: StartQ = None, end: EndQ = None,
) -> StreamingResponse:
    """One row per event: the common fields, then the whole payload as JSON."""
    scope = request_scope(db, user, region=region, station=station)
    rows = queries.event_rows(db, scope, kind=kind, start=parse_time(start, "start"), end=parse_time(end, "end"))
    return _csv(list(queries.EVENT_COLUMNS), rows, "events.csv")


@router.get("/export/rollups.csv")
def rollups_csv(
    db: DbDep, user: CurrentUser, station: StationQ = None, region: RegionQ = None,
    bucket: Annotated[Literal["hour", "day"], Query()] = "day", start: StartQ = None, end: EndQ = None,
) -> StreamingResponse:
    """The stored additive rollup rows (sums, maxima and JSON histograms) per station and bucket."""
    scope = request_scope(db, user, region=region, station=station)
    rows = queries.rollup_rows(db, scope, bucket=bucket, start=parse_time(start, "start"), end=parse_time(end, "end"))
    return _csv(list(queries.ROLLUP_COLUMNS), rows, f"rollups-{bucket}.csv")
