"""Alerts: filter, acknowledge, resolve."""

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query

from cloud import alerts as lifecycle
from cloud import queries
from cloud.api.deps import CurrentUser, DbDep, Now, RegionQ, StationQ, check_station, request_scope
from cloud.api.schemas import Alert, Comment

router = APIRouter(tags=["alerts"])
AlertId = Annotated[int, Path(ge=1, le=2**63 - 1, description="An alert's id")]  # SQLite's INTEGER range


@router.get("/alerts", response_model=list[Alert])
def list_alerts(
    db: DbDep, user: CurrentUser, now: Now,
    state: Annotated[Literal["open", "acknowledged", "resolved"] | None, Query()] = None,
    station: StationQ = None, region: RegionQ = None, overdue: bool | None = None,
    condition: Annotated[
        Literal["active", "cleared", "finding"] | None,
        Query(description="active: the station still reports it; cleared: it reported the condition gone; "
                          "finding: HQ's own judgement, with no condition to clear"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict]:
    scope = request_scope(db, user, region=region, station=station)
    return queries.alerts(db, scope, now=now, state=state, overdue=overdue, condition=condition, limit=limit)


def _transition(db, user, now, alert_id: int, body: Comment, action) -> dict:
    alert = lifecycle.get_alert(db, alert_id, now)
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id}")
    check_station(db, user, alert["station"])
    try:
        return action(db, alert_id, by=user.name, comment=body.comment, now=now)
    except lifecycle.AlertStateError as err:
        raise HTTPException(409, str(err)) from None


@router.post("/alerts/{alert_id}/acknowledge", response_model=Alert)
def acknowledge(alert_id: AlertId, body: Comment, db: DbDep, user: CurrentUser, now: Now) -> dict:
    return _transition(db, user, now, alert_id, body, lifecycle.acknowledge)


@router.post("/alerts/{alert_id}/resolve", response_model=Alert)
def resolve(alert_id: AlertId, body: Comment, db: DbDep, user: CurrentUser, now: Now) -> dict:
    return _transition(db, user, now, alert_id, body, lifecycle.resolve)
