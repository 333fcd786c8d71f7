"""What the station is doing now, as one frozen value: the station page, its /metrics and Home Assistant
all read this, so the three never disagree.

:func:`build_view` is pure: it takes the subsystems' stats as they are (typed where the subsystem gives
types, the sensors' and vision's ``stats()`` dicts where it does not) and today's figures.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from edge.config import StationConfig
from edge.link.outbox import OutboxStats
from edge.link.stats import LinkStats
from edge.today import RecentVisit, TodayFigures


@dataclass(frozen=True)
class RestroomNow:
    id: str
    name: str
    last_cleaned: float | None  # epoch seconds of the last counted check-in
    overdue: bool
    overdue_s: float
    check_ins_today: int


@dataclass(frozen=True)
class KioskNow:
    id: str
    location: str
    scale: int
    counts_today: dict[int, int]  # score -> ratings
    happy_index_today: float | None
    last_score: int | None
    last_at: float | None


@dataclass(frozen=True)
class CameraNow:
    configured: bool
    running: bool  # the vision pipeline runs
    ok: bool | None  # the camera delivers frames
    fps: float | None  # analysis frames per second actually achieved
    detector: str  # "off", "running", "failed"
    detect_ms_p50: float | None
    frames: int
    frames_skipped: int  # frames the motion gate let through without detection
    error: str | None


@dataclass(frozen=True)
class LinkNow:
    broker: str
    connected: bool
    last_error: str | None
    published: int
    confirmed: int
    awaiting_ack: int
    reconnects: int


@dataclass(frozen=True)
class OutboxNow:
    depth: int
    events: int
    oldest_s: float | None
    stored_bytes: int
    budget_bytes: int


@dataclass(frozen=True)
class StationView:
    station: str
    name: str
    version: str
    at: float
    uptime_s: float
    day: str
    since: float  # today's figures count since then
    happy_index_today: float | None
    ratings_today: int
    cars_today: int
    greet_p50_s: float | None
    restrooms: list[RestroomNow]
    kiosks: list[KioskNow]
    recent_visits: list[RecentVisit]
    camera: CameraNow
    link: LinkNow | None
    outbox: OutboxNow | None
    install_check: bool

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _camera(config: StationConfig, vision: Mapping[str, Any] | None, vision_error: str | None) -> CameraNow:
    if config.camera is None:
        return CameraNow(False, False, None, None, "off", None, 0, 0, None)
    if vision is None:
        return CameraNow(True, False, None, False, "failed", None, 0, 0, vision_error)
    source = vision.get("camera") if isinstance(vision.get("camera"), Mapping) else {}
    error = vision.get("error") or source.get("last_error")
    return CameraNow(
        configured=True, running=True, ok=source.get("camera_ok"), fps=vision.get("fps"),
        detector="failed" if vision.get("error") else "running", detect_ms_p50=vision.get("detect_ms_p50"),
        frames=int(vision.get("frames", 0)), frames_skipped=int(vision.get("frames_skipped", 0)),
        error=str(error)[:300] if error else None,
    )


def build_view(
    *, config: StationConfig, version: str, now: float, started_at: float, today: TodayFigures,
    sensors: Mapping[str, Any] | None, vision: Mapping[str, Any] | None, vision_error: str | None,
    outbox: OutboxStats | None, link: LinkStats | None, install_check: bool = False,
) -> StationView:
    overdue = {o["restroom"]: o["overdue_s"] for o in (sensors or {}).get("overdue", [])}
    restrooms = [
        RestroomNow(r.id, r.name or r.id, today.last_cleaned.get(r.id), r.id in overdue, float(overdue.get(r.id, 0.0)),
                    today.check_ins.get(r.id, 0))
        for r in config.restrooms
    ]
    kiosks = []
    for k in config.kiosks:
        last = today.last_rating.get(k.id)
        kiosks.append(KioskNow(k.id, k.location, k.scale, today.ratings.get(k.id, {}), today.happy_by_kiosk.get(k.id),
                               last[0] if last else None, last[1] if last else None))
    oldest = outbox.oldest_stored_at if outbox else None
    return StationView(
        station=config.station.id, name=config.station.name or config.station.id, version=version, at=now,
        uptime_s=max(0.0, now - started_at), day=today.day, since=today.since,
        happy_index_today=today.happy_index, ratings_today=sum(sum(c.values()) for c in today.ratings.values()),
        cars_today=today.cars, greet_p50_s=today.greet_p50_s, restrooms=restrooms, kiosks=kiosks,
        recent_visits=today.recent_visits, camera=_camera(config, vision, vision_error),
        link=None if link is None else LinkNow(config.mqtt.url, link.connected, link.last_error, link.published,
                                               link.confirmed, link.awaiting_ack, link.reconnects),
        outbox=None if outbox is None else OutboxNow(outbox.depth, outbox.events,
                                                     None if oldest is None else max(0.0, now - oldest),
                                                     outbox.stored_bytes, outbox.budget_bytes),
        install_check=install_check,
    )
