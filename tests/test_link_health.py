"""Health: a pure function of the subsystems' counters, and the two readers of the machine."""

from pathlib import Path

from edge.link.health import Machine, build_health, read_cpu_temp, read_rss_mb
from edge.link.outbox import OutboxStats
from edge.link.stats import LinkStats

NOW = 1_795_430_000.0
OUTBOX = OutboxStats(
    depth=7, events=5, oldest_stored_at=NOW - 90, stored_bytes=2100, budget_bytes=200_000_000,
    last_seq=41, dropped=0, health_thinned=0, rejected=1,
)
LINK = LinkStats(
    connected=False, published=34, reconnects=2, refused=0, rejected=0, last_error="cannot reach broker x:1",
    confirmed=30, awaiting_ack=4, resent=6, no_subscribers=3,
)


def test_health_carries_what_hq_needs_to_tell_a_sick_station():
    health = build_health(
        station="a", version="0.1.0", now=NOW, started_at=NOW - 3600, outbox=OUTBOX, link=LINK,
        sensors={"filtered_presses": {"shop": 3, "exit": 0}, "check_ins": {"ladies": 2}},
        vision={"fps": 4.6, "camera_ok": True, "frames_skipped": 12, "detector_ms": 80.5},
        machine=Machine(cpu_temp_c=51.2, rss_mb=88.0),
    )
    assert health.model_dump(exclude={"id"}) == {
        "v": 1, "station": "a", "ts": "2026-11-23T10:33:20.000Z", "version": "0.1.0", "uptime_s": 3600.0,
        "outbox_depth": 7, "oldest_undelivered_s": 90.0, "published": 34, "reconnects": 2, "dropped": 0,
        "confirmed": 30, "awaiting_ack": 4, "resent": 6, "rejected_by_hq": 1,
        "filtered_presses": {"shop": 3, "exit": 0}, "camera_fps": 4.6, "camera_ok": True, "frames_skipped": 12,
        "cpu_temp_c": 51.2, "rss_mb": 88.0,
        "extra": {
            "outbox_bytes": 2100, "outbox_budget_bytes": 200_000_000, "link_connected": False,
            "link_last_error": "cannot reach broker x:1", "link_no_subscribers": 3,
            "sensors": {"check_ins": {"ladies": 2}}, "vision": {"detector_ms": 80.5},
        },
    }


def test_health_without_sensors_vision_or_link_leaves_their_fields_empty():
    empty = OutboxStats(0, 0, None, 0, 1000, 0, 3, 2)
    health = build_health(
        station="a", version="0.1.0", now=NOW, started_at=NOW, outbox=empty, link=None,
        sensors=None, vision=None, machine=Machine(None, None),
    )
    assert (health.outbox_depth, health.oldest_undelivered_s, health.dropped, health.filtered_presses) == (0, None, 3, {})
    assert (health.camera_fps, health.camera_ok, health.cpu_temp_c) == (None, None, None)
    assert health.extra["health_thinned"] == 2


def _zone(root: Path, n: int, kind: str, millideg: str) -> None:
    zone = root / f"thermal_zone{n}"
    zone.mkdir(parents=True)
    (zone / "type").write_text(kind + "\n")
    (zone / "temp").write_text(millideg + "\n")


def test_cpu_temperature_comes_from_the_cpu_zone(tmp_path):
    _zone(tmp_path, 0, "acpitz", "27800")
    _zone(tmp_path, 1, "cpu-thermal", "48312")
    assert read_cpu_temp(tmp_path) == 48.312


def test_cpu_temperature_falls_back_to_the_first_readable_zone_or_none(tmp_path):
    assert read_cpu_temp(tmp_path / "absent") is None
    _zone(tmp_path, 0, "acpitz", "garbage")
    _zone(tmp_path, 1, "x86_pkg_temp", "39000")
    assert read_cpu_temp(tmp_path) == 39.0


def test_rss_of_this_process_is_plausible():
    rss = read_rss_mb()
    assert rss is None or 5 < rss < 4000
