"""Follow-up items of bad ratings: list within the caller's scope, acknowledge (followed up), close
(rectified, with what was done). Their response models live here, beside the routes that promise them."""

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field, field_validator

from cloud import followup_records as records
from cloud.api.deps import CurrentUser, DbDep, Now, RegionQ, StationQ, check_station, request_scope

router = APIRouter(tags=["followups"])
FollowupId = Annotated[int, Path(ge=1, le=2**63 - 1, description="A follow-up item's id")]  # SQLite's INTEGER range


class Stage(BaseModel):
    due_at: str
    met_at: str | None = Field(description="When it was met: acknowledged (or closed) for the follow-up, closed for the rectification")
    status: Literal["pending", "met", "late", "overdue"]


class ListedRating(BaseModel):
    event_id: str
    ts: str
    score: int
    scale: int
    kiosk: str
    reason: str | None
    flag: str | None = Field(description="Why the station thinks it doubtful (e.g. simultaneous presses); still followed up")


class Escalation(BaseModel):
    stage: Literal["follow_up", "rectify"]
    due_at: str
    escalated_at: str = Field(description="When the collector found the deadline passed unmet")
    told: str = Field(description="The role told: region:<path> (the nearest manager with a user) or hq")
    users: list[str] = Field(description="The users who held that role then")


class Followup(BaseModel):
    id: int
    station: str
    name: str
    region: str
    day: str = Field(description="The station-local day whose bad ratings the item lists")
    opened_at: str = Field(description="The item's first bad rating; both deadlines run from it")
    timezone: str = Field(description="The station's time zone the working days were counted in")
    calendar: str = Field(description="The public-holiday calendar skipped ('' for none)")
    state: Literal["open", "acknowledged", "closed"]
    overdue: bool = Field(description="A deadline has passed unmet")
    follow_up: Stage
    rectify: Stage
    ratings: list[ListedRating]
    escalations: list[Escalation]
    acknowledged_by: str | None
    acknowledged_at: str | None
    ack_note: str | None
    closed_by: str | None
    closed_at: str | None
    close_note: str | None


class AckNote(BaseModel):
    note: str = Field("", max_length=2000, description="How it was followed up")


class CloseNote(BaseModel):
    note: str = Field(min_length=1, max_length=2000, description="What was done to rectify it")

    @field_validator("note")
    @classmethod
    def _says_something(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("say what was done to rectify it")
        return value


@router.get("/followups", response_model=list[Followup])
def list_followups(
    db: DbDep, user: CurrentUser, now: Now,
    state: Annotated[Literal["open", "acknowledged", "closed"] | None, Query()] = None,
    station: StationQ = None, region: RegionQ = None, overdue: bool | None = None, escalated: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> list[dict]:
    """Items newest first, each with the ratings it lists, its two deadlines and any escalation."""
    scope = request_scope(db, user, region=region, station=station)
    return records.list_followups(db, scope, now=now, state=state, overdue=overdue, escalated=escalated, limit=limit)


@router.get("/followups/{followup_id}", response_model=Followup)
def get_followup(followup_id: FollowupId, db: DbDep, user: CurrentUser, now: Now) -> dict:
    return _visible(db, user, now, followup_id)


def _visible(db, user, now, followup_id: int) -> dict:
    item = records.get_followup(db, followup_id, now)
    if item is None:
        raise HTTPException(404, f"no follow-up {followup_id}")
    check_station(db, user, item["station"])
    return item


def _transition(db, user, now, followup_id: int, note: str, action) -> dict:
    """``action`` on an item the caller may see, by them; 409 when the item is past that state."""
    _visible(db, user, now, followup_id)
    try:
        return action(db, followup_id, by=user.name, note=note, now=now)
    except records.FollowupStateError as err:
        raise HTTPException(409, str(err)) from None


@router.post("/followups/{followup_id}/acknowledge", response_model=Followup)
def acknowledge(followup_id: FollowupId, body: AckNote, db: DbDep, user: CurrentUser, now: Now) -> dict:
    """Followed up (the customer called back, the cause looked at): who, when and how."""
    return _transition(db, user, now, followup_id, body.note, records.acknowledge)


@router.post("/followups/{followup_id}/close", response_model=Followup)
def close(followup_id: FollowupId, body: CloseNote, db: DbDep, user: CurrentUser, now: Now) -> dict:
    """Rectified: what was done. A closed item is tracked no further."""
    return _transition(db, user, now, followup_id, body.note, records.close)
