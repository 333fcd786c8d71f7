"""The collector config (``collector.toml``), validated once at start-up."""

import re
from pathlib import Path

from pydantic import Field, field_validator

from forecourt.connection import BrokerConnection
from forecourt.settings import Section, apply_overrides, load_toml, validate


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
    path: Path = Field(Path("/var/lib/forecourt/collector.db"), description="SQLite database file")


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


class ScoreWeights(Section):
    satisfaction: float = Field(0.35, ge=0, description="Weight of the Happy Index (0-100)")
    no_bad_ratings: float = Field(0.15, ge=0, description="Weight of 100 x (1 - bad-rating rate)")
    compliance: float = Field(0.25, ge=0, description="Weight of restroom compliance (share of online time not overdue)")
    greeting: float = Field(0.25, ge=0, description="Weight of the share of greeted cars greeted within the goal")


class ScoreSettings(Section):
    weights: ScoreWeights = Field(default_factory=ScoreWeights, description="Component weights; renormalised over components with data")
    min_ratings: int = Field(20, ge=1, description="Fewer ratings than this and satisfaction components are left out")
    min_visits: int = Field(20, ge=1, description="Fewer greeted visits than this and the greeting component is left out")
    min_online_share: float = Field(0.5, ge=0, le=1, description="Online less than this share of the period: insufficient data")
    min_components: int = Field(2, ge=1, description="Fewer components with data than this: insufficient data")
    exposure_below: float = Field(60.0, description="Scores below this are flagged for exposure")
    review_below: float = Field(90.0, description="Scores below this require the manager's review")
    z: float = Field(1.96, gt=0, description="Normal quantile of the shown score interval (1.96 = 95 %)")


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


class CollectorConfig(Section):
    mqtt: CollectorMqtt = Field(default_factory=CollectorMqtt, description="The chain's broker")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings, description="Where events and rollups live")
    http: HttpSettings = Field(default_factory=HttpSettings, description="The HQ API and dashboard")
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Batching and dead letters")
    goals: GoalSettings = Field(default_factory=GoalSettings, description="Service goals the figures are judged against")
    score: ScoreSettings = Field(default_factory=ScoreSettings, description="The service score formula (docs/SCORE.md)")
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="Alert rule thresholds and deadlines")


def load_collector_config(
    path: str | Path, *, broker_url: str | None = None, database: str | None = None, listen: str | None = None
) -> CollectorConfig:
    """Read, override (flag > ``FORECOURT_*`` environment > file) and validate a collector config."""
    data = apply_overrides(
        load_toml(path),
        {
            "mqtt.url": ("FORECOURT_BROKER_URL", broker_url),
            "database.path": ("FORECOURT_DATABASE", database),
            "http.listen": ("FORECOURT_LISTEN", listen),
        },
    )
    return validate(CollectorConfig, data, str(path))
