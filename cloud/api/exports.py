"""CSV exports of raw events and rollups, scoped like everything else."""

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from cloud.api.deps import (
    CurrentUser,
    DbDep,
    EndQ,
    RegionQ,
    StartQ,
    check_station,
    parse_time,
    visible_stations,
)
from cloud.rollups import COLUMNS

router = APIRouter(tags=["export"])


def _scope(db, user, station: str | None, region: str | None) -> tuple[str, list]:
    if station is not None:
        check_station(db, user, station)
        return "s.id = ?", [station]
    return visible_stations(db, user, region=region)


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
    db: DbDep, user: CurrentUser, station: str | None = None, region: RegionQ = None,
    kind: Annotated[Literal["rating", "cleaning", "visit", "alert", "zone"] | None, Query()] = None,
    start: StartQ = None, end: EndQ = None,
) -> StreamingResponse:
    """One row per event: the common fields, then the whole payload as JSON."""
    where, params = _scope(db, user, station, region)
    clauses = [f"e.station IN (SELECT s.id FROM stations s WHERE {where})"]
    for clause, value in (("e.kind = ?", kind), ("e.ts >= ?", parse_time(start, "start")), ("e.ts < ?", parse_time(end, "end"))):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    rows = db.execute(
        f"SELECT e.id, e.station, e.kind, e.ts, e.seq, e.received_at, e.payload FROM events e "
        f"WHERE {' AND '.join(clauses)} ORDER BY e.station, e.ts, e.seq", params,
    ).fetchall()
    return _csv(["id", "station", "kind", "ts", "seq", "received_at", "payload"], iter(rows), "events.csv")


@router.get("/export/rollups.csv")
def rollups_csv(
    db: DbDep, user: CurrentUser, station: str | None = None, region: RegionQ = None,
    bucket: Annotated[Literal["hour", "day"], Query()] = "day", start: StartQ = None, end: EndQ = None,
) -> StreamingResponse:
    """The stored additive rollup rows (sums, maxima and JSON histograms) per station and bucket."""
    where, params = _scope(db, user, station, region)
    width = 13 if bucket == "hour" else 10
    clauses = ["r.period = ?", f"r.station IN (SELECT s.id FROM stations s WHERE {where})"]
    params = [bucket, *params]
    for clause, value in (("r.bucket >= ?", parse_time(start, "start")), ("r.bucket < ?", parse_time(end, "end"))):
        if value is not None:
            clauses.append(clause)
            params.append(value[:width])
    rows = db.execute(
        f"SELECT r.station, r.bucket, r.complete, {', '.join('r.' + c for c in COLUMNS)} FROM rollups r "
        f"WHERE {' AND '.join(clauses)} ORDER BY r.station, r.bucket", params,
    ).fetchall()
    return _csv(["station", "bucket", "complete", *COLUMNS], iter(rows), f"rollups-{bucket}.csv")
