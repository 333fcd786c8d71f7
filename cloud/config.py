"""The collector config (``collector.toml``), validated once at start-up."""

import os
import re
from pathlib import Path

from pydantic import Field, field_validator

from cloud.database import is_postgres
from forecourt.connection import BrokerConnection
from forecourt.settings import Section, apply_overrides, load_toml, set_path, validate


class CollectorMqtt(BrokerConnection):
    """The collector's link: the shared connection kit plus its session and share group."""

    username: str | None = Field(
        "collector", description="MQTT username of this collector instance; each instance needs its own (the broker binds client id to it)"
    )
    client_id: str | None = Field(
        None, description="Client id of the persistent session; defaults to the username (the shipped broker enforces that)"
    )
    share_group: str = Field(
        "forecourt",
        description="Shared-subscription group; collectors in one group split the fleet. '' subscribes plainly "
        "(one collector). Mosquitto 2.0 forgets shared subscriptions when it restarts; stations resend what HQ did not acknowledge",
    )
    session_expiry_s: int = Field(7 * 24 * 3600, ge=0, description="How long the broker keeps our queue while we are away")
    receive_maximum: int = Field(
        65535, ge=1, le=65535,
        description="Unacknowledged messages the broker may send us at once; must exceed ingest.batch_size",
    )

    @property
    def session_id(self) -> str:
        return self.client_id or self.username or "collector"


class DatabaseSettings(Section):
    path: Path = Field(Path("/var/lib/forecourt/collector.db"), description="SQLite database file (one collector)")
    url: str | None = Field(
        None, pattern=r"^postgres(ql)?://", description="PostgreSQL instead of the file, e.g. postgresql://forecourt@db/forecourt "
        "(several collectors may share it); the password belongs in ~/.pgpass or PGPASSWORD, not here",
    )
    pool_size: int = Field(8, ge=1, le=200, description="PostgreSQL: connections the API may hold open")

    @property
    def target(self) -> str | Path:
        """What cloud.database.connect() opens: the URL when set, else the file."""
        return self.url or self.path


class HttpSettings(Section):
    listen: str = Field("127.0.0.1:8080", description="HOST:PORT the API and dashboard listen on")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        if not re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}", value):
            raise ValueError(f"{value!r} is not HOST:PORT, e.g. 127.0.0.1:8080")
        return value

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


class GoalSettings(Section):
    greet_s: float = Field(60.0, gt=0, description="Greeting goal: seconds from a car stopping to an attendant reaching it")
    min_visit_fps: float = Field(2.0, ge=0, description="Visits analysed below this frame rate are excluded from greet figures")


class BadScores(Section):
    """The highest score that is still bad, per kiosk size; the defaults are the lower half of each scale,
    as the Happy Index counts it (docs/SCORE.md)."""

    of_3: int = Field(1, ge=0, le=3, description="A rating on a 3-button kiosk at or below this score is bad (0: none)")
    of_4: int = Field(2, ge=0, le=4, description="A rating on a 4-button kiosk at or below this score is bad (0: none)")
    of_5: int = Field(2, ge=0, le=5, description="A rating on a 5-button kiosk at or below this score is bad (0: none)")

    def by_scale(self) -> dict[int, int]:
        return {3: self.of_3, 4: self.of_4, 5: self.of_5}


class FollowupSettings(Section):
    bad_at_most: BadScores = Field(default_factory=BadScores, description="Which ratings open a follow-up item")
    follow_up_h: float = Field(24.0, gt=0, description="Hours from a bad rating within which someone must follow it up (acknowledge)")
    rectify_working_days: int = Field(
        3, ge=1, description="Working days from a bad rating within which it must be rectified (closed with what was done)"
    )
    timezone: str = Field("UTC", description="IANA time zone of stations the registry gives none (its CSV's timezone column)")
    holidays: dict[str, str] = Field(
        default_factory=dict,
        description="Public-holiday calendar per region path, e.g. {'' = 'NO', 'sweden' = 'SE', 'uk/wales' = 'GB-WLS'}: "
        "'' is the whole chain, the longest containing path wins; codes are the holidays package's country[-subdivision]",
    )
    first_run_days: float = Field(
        7.0, ge=0, description="On its first run the job considers ratings received this many days back, not all history"
    )

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        from cloud.registry import zone

        zone(value)
        return value

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, value: dict[str, str]) -> dict[str, str]:
        from cloud.followups import holiday_calendar
        from cloud.registry import normalise_region

        checked = {}
        for path, code in value.items():
            try:
                holiday_calendar(code)
                checked[normalise_region(path)] = code
            except ValueError as err:
                raise ValueError(f"holidays[{path!r}]: {err}") from None
        return checked


class ScoreWeights(Section):
    satisfaction: float = Field(0.35, ge=0, description="Weight of the Happy Index (0-100)")
    no_bad_ratings: float = Field(0.15, ge=0, description="Weight of 100 x (1 - bad-rating rate)")
    compliance: float = Field(0.25, ge=0, description="Weight of restroom compliance (share of online time not overdue)")
    greeting: float = Field(0.25, ge=0, description="Weight of the share of greeted cars greeted within the goal")


COMPONENTS = ("satisfaction", "no_bad_ratings", "compliance", "greeting")


class ScoreSettings(Section):
    weights: ScoreWeights = Field(default_factory=ScoreWeights, description="Component weights; renormalised over components with data")
    required: tuple[str, ...] = Field(
        COMPONENTS,
        description="Components a station needs enough data for to be scored at all; without one it is insufficient "
        "(listed, not ranked) instead of being scored on the others. A chain without cameras leaves out greeting here "
        "and sets its weight to 0",
    )
    min_ratings: int = Field(20, ge=1, description="Fewer ratings than this and satisfaction components are left out")
    min_visits: int = Field(20, ge=1, description="Fewer greeted visits than this and the greeting component is left out")
    min_online_share: float = Field(0.5, ge=0, le=1, description="Online less than this share of the period: insufficient data")
    min_components: int = Field(2, ge=1, description="Fewer components with data than this: insufficient data")
    exposure_below: float = Field(60.0, description="Scores below this are flagged for exposure")
    review_below: float = Field(90.0, description="Scores below this require the manager's review")
    z: float = Field(1.96, gt=0, description="Normal quantile of the shown score interval (1.96 = 95 %)")

    @field_validator("required")
    @classmethod
    def _components(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(COMPONENTS))
        if unknown:
            raise ValueError(f"unknown component(s) {', '.join(unknown)}: choose from {', '.join(COMPONENTS)}")
        return value


class AlertSettings(Section):
    restroom_grace_min: float = Field(15.0, ge=0, description="A restroom overdue longer than this opens an alert")
    bad_rate_line: float = Field(0.2, ge=0, le=1, description="Bad-rating share above which an alert opens")
    bad_rate_window_h: int = Field(4, ge=1, le=24, description="Hours per fixed window (aligned on midnight UTC) for the bad-rating rule")
    bad_rate_min_ratings: int = Field(10, ge=1, description="Ratings a window needs before the bad-rating rule judges it")
    greet_line: float = Field(0.8, ge=0, le=1, description="Share greeted within the goal below which an alert opens")
    greet_window_h: int = Field(4, ge=1, le=24, description="Hours per fixed window for the greeting rule")
    greet_min_visits: int = Field(10, ge=1, description="Greeted visits a window needs before the greeting rule judges it")
    offline_after_min: float = Field(10.0, ge=0, description="A station offline longer than this opens an alert")
    seq_gap_grace_min: float = Field(10.0, ge=0, description="A sequence gap not filled by replay within this opens an alert")
    answer_due_h: float = Field(24.0, gt=0, description="A bad-rating alert must be answered within this many hours")
    rectify_working_days: int = Field(3, ge=1, description="Other alerts must be rectified within this many working days (Sat/Sun skipped)")


class IngestSettings(Section):
    batch_size: int = Field(2000, ge=1, description="Most messages committed in one transaction")
    batch_wait_ms: float = Field(50.0, ge=0, description="Longest a received message waits for its batch to fill")
    dead_letter_bytes: int = Field(2048, ge=0, description="Raw payload bytes kept per dead letter")
    worker_process: bool = Field(
        True, description="Validate and store in a child process, so receiving and storing use two cores"
    )
    rollup_interval_s: float = Field(30.0, gt=0, description="Seconds between rollup and alert-rule runs")


class FleetSettings(Section):
    """How the collector keeps each station's settings document on the broker (cloud/fleet_link.py)."""

    poll_s: float = Field(
        0.5, gt=0, le=60, description="Seconds between looks for documents a change issued (by the CLI or the API) to publish"
    )
    refresh_s: float = Field(
        10.0, gt=0, description="Seconds between rebuilding every station's document, for stations the registry added or moved"
    )


class CollectorConfig(Section):
    mqtt: CollectorMqtt = Field(default_factory=CollectorMqtt, description="The chain's broker")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings, description="Where events and rollups live")
    http: HttpSettings = Field(default_factory=HttpSettings, description="The HQ API and dashboard")
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Batching and dead letters")
    goals: GoalSettings = Field(default_factory=GoalSettings, description="Service goals the figures are judged against")
    score: ScoreSettings = Field(default_factory=ScoreSettings, description="The service score formula (docs/SCORE.md)")
    followups: FollowupSettings = Field(
        default_factory=FollowupSettings, description="Follow-up items opened by every bad rating, their deadlines and escalation"
    )
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="Alert rule thresholds and deadlines")
    fleet: FleetSettings = Field(default_factory=FleetSettings, description="Publishing HQ's settings to stations")


def load_collector_config(
    path: str | Path, *, broker_url: str | None = None, database: str | None = None, listen: str | None = None
) -> CollectorConfig:
    """Read, override (flag > ``FORECOURT_*`` environment > file) and validate a collector config.

    ``database`` (``--database``, ``FORECOURT_DATABASE``) is a file path or a ``postgresql://`` URL."""
    database = database if database is not None else os.environ.get("FORECOURT_DATABASE")
    data = load_toml(path)
    if database is not None:  # a URL replaces the file and a file the URL, whichever the config names
        set_path(data, "database.url", database if is_postgres(database) else None)
        if not is_postgres(database):
            set_path(data, "database.path", database)
    data = apply_overrides(
        data, {"mqtt.url": ("FORECOURT_BROKER_URL", broker_url), "http.listen": ("FORECOURT_LISTEN", listen)},
    )
    return validate(CollectorConfig, data, str(path))
