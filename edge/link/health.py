"""Station health: a pure function from counters to a :class:`forecourt.protocol.Health`, plus the two
tiny readers of the machine (CPU temperature, resident memory) that it needs."""

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.link.outbox import OutboxStats
from edge.link.stats import LinkStats
from forecourt.protocol import Health, format_epoch, new_id

THERMAL = Path("/sys/class/thermal")


@dataclass(frozen=True)
class Machine:
    cpu_temp_c: float | None
    rss_mb: float | None


def build_health(
    *,
    station: str,
    version: str,
    now: float,
    started_at: float,
    outbox: OutboxStats,
    link: LinkStats | None,
    sensors: Mapping[str, Any] | None,
    vision: Mapping[str, Any] | None,
    machine: Machine,
    notes: Mapping[str, Any] | None = None,
) -> Health:
    """Everything HQ needs to tell a healthy station from a sick one, as of ``now`` (epoch seconds).

    ``sensors`` and ``vision`` are the subsystems' ``stats()`` (None when the subsystem does not run);
    counters without a named Health field travel in ``extra`` so nothing a subsystem reports is lost,
    as do the service's own ``notes`` (e.g. drafts refused as invalid, a camera that could not start).
    """
    sensors = dict(sensors or {})
    vision = dict(vision or {}) if vision is not None else None
    extra: dict[str, Any] = {"outbox_bytes": outbox.stored_bytes, "outbox_budget_bytes": outbox.budget_bytes}
    if outbox.health_thinned:
        extra["health_thinned"] = outbox.health_thinned
    if link is not None:
        extra["link_connected"] = link.connected
        if link.refused or link.rejected:
            extra["link_refused"], extra["link_rejected"] = link.refused, link.rejected
        if link.no_subscribers:
            extra["link_no_subscribers"] = link.no_subscribers
        if link.last_error:
            extra["link_last_error"] = link.last_error[:200]
    filtered = sensors.pop("filtered_presses", {}) or {}
    if sensors:
        extra["sensors"] = _plain(sensors)
    camera: dict[str, Any] = {}
    if vision is not None:
        source = vision.get("camera") if isinstance(vision.get("camera"), Mapping) else {}
        camera = {
            "camera_fps": _non_negative(vision.pop("fps", vision.pop("achieved_fps", None))),
            "camera_ok": _maybe(bool, vision.pop("camera_ok", source.get("camera_ok"))),
            "frames_skipped": _maybe(int, vision.pop("frames_skipped", None)),
        }
        if vision:
            extra["vision"] = _plain(vision)
    if notes:
        extra.update(_plain(notes))
    oldest = outbox.oldest_stored_at
    return Health(
        id=new_id(),
        station=station,
        ts=format_epoch(now),
        version=version,
        uptime_s=max(0.0, now - started_at),
        outbox_depth=outbox.depth,
        oldest_undelivered_s=None if oldest is None else max(0.0, now - oldest),
        published=link.published if link else 0,
        confirmed=link.confirmed if link else 0,
        awaiting_ack=link.awaiting_ack if link else 0,
        resent=link.resent if link else 0,
        rejected_by_hq=outbox.rejected,
        reconnects=link.reconnects if link else 0,
        dropped=outbox.dropped,
        filtered_presses={str(k): int(v) for k, v in filtered.items()},
        cpu_temp_c=machine.cpu_temp_c,
        rss_mb=machine.rss_mb,
        extra=extra,
        **{k: v for k, v in camera.items() if v is not None},
    )


def _non_negative(value: Any) -> float | None:
    return None if value is None else max(0.0, float(value))


def _maybe(kind: type, value: Any) -> Any:
    return None if value is None else kind(value)


def _plain(data: Mapping[str, Any]) -> dict[str, Any]:
    """Only JSON-friendly values go on the wire; anything else is sent as its text."""
    return {str(key): _json_value(value) for key, value in data.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, Mapping):
        return _plain(value)
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return str(value)


def read_cpu_temp(thermal: Path = THERMAL) -> float | None:
    """The CPU zone's temperature in °C (a Pi reports ``cpu-thermal``), or None where there is none."""
    zones = sorted(thermal.glob("thermal_zone*")) if thermal.is_dir() else []
    readings: list[tuple[str, float]] = []
    for zone in zones:
        try:
            kind = (zone / "type").read_text().strip() if (zone / "type").exists() else ""
            readings.append((kind, int((zone / "temp").read_text().strip()) / 1000))
        except (OSError, ValueError):
            continue
    for kind, celsius in readings:
        if "cpu" in kind or "soc" in kind:
            return celsius
    return readings[0][1] if readings else None


def read_rss_mb() -> float | None:
    """Resident memory of this process from /proc (Linux); None elsewhere."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def read_machine(thermal: Path = THERMAL) -> Machine:
    return Machine(cpu_temp_c=read_cpu_temp(thermal), rss_mb=read_rss_mb())
