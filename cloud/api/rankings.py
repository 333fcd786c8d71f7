"""Monthly and weekly rankings."""

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from cloud import rankings as ranking
from cloud.api.deps import ConfigDep, CurrentUser, DbDep, Now, RegionQ, check_region
from cloud.api.schemas import Ranking

router = APIRouter(tags=["rankings"])


@router.get("/rankings", response_model=list[Ranking])
def rankings(
    db: DbDep, user: CurrentUser, now: Now, config: ConfigDep,
    period: Annotated[Literal["month", "week"], Query()] = "month",
    at: Annotated[str | None, Query(description="YYYY-MM or YYYY-Www; default: the current period")] = None,
    region: RegionQ = None,
) -> list[dict]:
    """Ranks within the chain (HQ) or the given region; a station manager sees their station's row only."""
    path = check_region(user, region)
    if path is None and user.role.kind == "region":
        path = user.role.value
    try:
        chosen = ranking.parse_period(period, at, now)
    except ranking.PeriodError as err:
        raise HTTPException(422, str(err)) from None
    rows = ranking.rankings(db, chosen, now, config.score, region=path)
    if user.role.kind == "station":
        # Their rank among the chain is theirs to know; the other stations' rows are not.
        return [r for r in rows if r["station"] == user.role.value]
    return rows
