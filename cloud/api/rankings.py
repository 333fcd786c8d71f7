"""Monthly and weekly rankings."""

import re
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from cloud import queries
from cloud import rankings as ranking
from cloud.api.deps import LATEST, ConfigDep, CurrentUser, DbDep, Now, RegionQ, request_scope, shown
from cloud.api.schemas import Ranking
from cloud.auth import Scope

router = APIRouter(tags=["rankings"])
FIRST_YEAR = 1971  # a ranking compares with the period before, which must not precede 1970
LAST_YEAR = LATEST.year - 1


def chosen_period(period: str, at: str | None, now) -> ranking.Period:
    """The period asked for, or 422 naming what is wrong (format, or a year outside what HQ can hold)."""
    year = re.match(r"\d{4}", at or "")
    if year and not FIRST_YEAR <= int(year[0]) <= LAST_YEAR:
        raise HTTPException(422, f"at={shown(at)}: the year must lie in {FIRST_YEAR}..{LAST_YEAR}")
    try:
        return ranking.parse_period(period, at, now)
    except ranking.PeriodError as err:
        raise HTTPException(422, str(err)) from None


@router.get("/rankings", response_model=list[Ranking])
def rankings(
    db: DbDep, user: CurrentUser, now: Now, config: ConfigDep,
    period: Annotated[Literal["month", "week"], Query()] = "month",
    at: Annotated[str | None, Query(max_length=8, description="YYYY-MM or YYYY-Www; default: the current period")] = None,
    region: RegionQ = None,
) -> list[dict]:
    """Ranks within the chain (HQ) or the given region; a station manager sees their station's row only."""
    scope = request_scope(db, user, region=region)
    chosen = chosen_period(period, at, now)
    # Stations rank among their region's population (a station manager: among the whole chain, as their
    # rank there is theirs to know); only the rows inside the caller's scope are returned.
    rows = queries.rankings(db, Scope(region=scope.region), chosen, now, config.score)
    return [row for row in rows if scope.covers(row["station"], row["region"])]
