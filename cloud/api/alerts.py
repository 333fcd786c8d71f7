"""Alerts: filter, acknowledge, resolve."""

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from cloud import alerts as lifecycle
from cloud.api.deps import CurrentUser, DbDep, Now, RegionQ, check_station, visible_stations
from cloud.api.schemas import Alert, Comment

router = APIRouter(tags=["alerts"])


@router.get("/alerts", response_model=list[Alert])
def list_alerts(
    db: DbDep, user: CurrentUser, now: Now,
    state: Annotated[Literal["open", "acknowledged", "resolved"] | None, Query()] = None,
    station: str | None = None, region: RegionQ = None, overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict]:
    where, params = visible_stations(db, user, region=region, station=station)
    return lifecycle.list_alerts(
        db, now=now, where=where, params=params, state=state, station=station,
        overdue=overdue, limit=limit,
    )


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
def acknowledge(alert_id: int, body: Comment, db: DbDep, user: CurrentUser, now: Now) -> dict:
    return _transition(db, user, now, alert_id, body, lifecycle.acknowledge)


@router.post("/alerts/{alert_id}/resolve", response_model=Alert)
def resolve(alert_id: int, body: Comment, db: DbDep, user: CurrentUser, now: Now) -> dict:
    return _transition(db, user, now, alert_id, body, lifecycle.resolve)
