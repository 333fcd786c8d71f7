"""Output schemas: what the API promises the dashboard (fields may be added, never renamed)."""

from typing import Any, Literal

from pydantic import BaseModel, Field


class Me(BaseModel):
    name: str
    role: str = Field(description="hq, region:<path> or station:<id>")


class Station(BaseModel):
    id: str
    name: str
    region: str = Field(description="Region path, '' when not yet placed")
    status: Literal["online", "offline", "unknown"]
    status_at: str | None = Field(None, description="When the status last changed")
    last_seen: str | None
    version: str | None
    auto_registered: bool = Field(description="Published before it was registered")
    open_alerts: int


class Restroom(BaseModel):
    restroom: str
    last_checkin: str | None
    since_s: float | None
    overdue: bool


class SeqGap(BaseModel):
    first_seq: int
    last_seq: int
    missing: int
    detected_at: str


class StationDetail(Station):
    restrooms: list[Restroom]
    health: dict[str, Any] | None
    seq_gaps: list[SeqGap]
    duplicates: int
    last_seq: int | None
    goals: dict[str, float] | None = Field(
        None, description="The goals HQ judges by (greet_s, min_visit_fps): the collector file's, with the chain's goals.* settings over them"
    )


class DeadLetter(BaseModel):
    id: int
    received_at: str
    topic: str
    station: str | None
    reason: str
    size: int = Field(description="Bytes received; payload holds at most the configured cap")
    payload: str = Field(description="The kept bytes, decoded as UTF-8 with replacement")


class PoisonHour(BaseModel):
    station: str
    hour: str = Field(description="The station-hour, e.g. 2026-11-23T10 (UTC)")
    error: str
    attempts: int = Field(description="Times its recomputation failed")
    failed_at: str


class Alert(BaseModel):
    id: int
    station: str
    rule: str
    subject: str
    message: str
    opened_at: str
    due_at: str
    overdue: bool
    state: Literal["open", "acknowledged", "resolved"]
    acknowledged_by: str | None
    acknowledged_at: str | None
    ack_comment: str | None
    resolved_by: str | None
    resolved_at: str | None
    comment: str | None
    cleared_at: str | None = Field(description="When the station reported the condition gone")
    condition: Literal["active", "cleared", "finding"] = Field(
        description="For an alert that follows the station's own (restroom overdue, stuck button): active until "
        "the station reports the condition gone (cleared_at), cleared after. finding: HQ's own judgement (a "
        "window's figures, an outage, a gap) with nothing to clear. Independent of state: a cleared alert stays "
        "open until someone acknowledges or resolves it"
    )


class Comment(BaseModel):
    comment: str = Field("", max_length=2000)


class Coverage(BaseModel):
    online_min: float
    camera_fps: float | None
    excluded: dict[str, int]
    poisoned_hours: int = Field(0, description="Station-hours whose rollup failed and is set aside (see poison-hours)")


class RestroomFigures(BaseModel):
    restroom: str
    cleanings: int = Field(description="Counted check-ins")
    flagged: int = Field(description="Check-ins flagged as not a real cleaning (too soon, burst, catch-up)")
    overdue_min: float
    compliance: float | None = Field(description="Share of online time this restroom was not overdue")
    longest_gap_min: float | None


class Figures(BaseModel):
    ratings: dict[str, int]
    ratings_by_reason: dict[str, int] = Field(default_factory=dict, description="Ratings per reason button pressed")
    doubtful_ratings: dict[str, int] = Field(
        default_factory=dict, description="Ratings the kiosk flagged as doubtful, per flag (e.g. two buttons at once)"
    )
    filtered_presses: dict[str, int] = Field(
        default_factory=dict, description="Score presses that are not ratings, per reason (burst, held, stuck, ...)"
    )
    happy_index: float | None
    bad_rate: float | None
    ratings_restroom: int
    happy_index_restroom: float | None
    cleanings: int
    compliance: float | None
    longest_gap_min: float | None
    overdue_episodes: int
    flagged: int
    visits: int
    vehicles_per_hour: float | None
    greet_p50: float | None
    greet_p90: float | None
    greet_within_goal: float | None
    dwell_p50: float | None
    dwell_p90: float | None
    restrooms: list[RestroomFigures] = Field(default_factory=list)
    coverage: Coverage


class Metric(Figures):
    bucket: str


class Summary(Figures):
    """A station's figures over one window of whole hours."""

    station: str
    start: str = Field(description="First hour of the window (inclusive)")
    end: str = Field(description="End of the window (exclusive)")
    hours: int = Field(description="Hours in the window with a rollup row")
    greeted: int = Field(description="Greeted visits behind greet_p50 and greet_p90")
    greet_judged: int = Field(description="Visits behind greet_within_goal, greeted or not (those below the fps floor are left out)")
    greet_hist: dict[str, int] = Field(description="Greeted visits by whole seconds from stopping to the greeting")
    dwell_hist: dict[str, int] = Field(description="Visits by whole seconds from entering the bay to leaving it")


class RankingCoverage(BaseModel):
    online_min: float
    online_share: float
    ratings: int
    visits_judged: int = Field(description="Visits the greeting figure is based on")


class Ranking(BaseModel):
    rank: int | None
    station: str
    name: str
    region: str
    score: float | None
    band: Literal["good", "review", "exposure", "insufficient"]
    score_low: float | None
    score_high: float | None
    previous_score: float | None
    trend: float | None
    open_alerts: int
    coverage: RankingCoverage
    components: dict[str, float | None]
