"""Rollups by reason and per restroom, ingested and rolled up as the collector does: ratings totalled per
reason button; each restroom's check-ins, overdue time, compliance and longest gap; a late event folded
into the day it belongs to."""

from datetime import UTC, datetime

from cloud.config import GoalSettings
from cloud.ingest import Ingestor
from cloud.rollups import metrics, run_rollups
from cloud.store import open_db
from forecourt.protocol import FilteredPresses, format_ts
from tests.cloud_kit import cleaning, edge_alert, incoming, next_id, online, rating


def t(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-06T{text}:00+00:00").astimezone(UTC)


def reasoned(seq: int, at: str, score: int, reason: str | None):
    return rating("leeds-01", seq, t(at), score).model_copy(update={"reason": reason})


def picked(rows: list[dict]) -> list[tuple]:
    return [(row["bucket"][11:16], row["ratings_by_reason"], row["restrooms"]) for row in rows]


def room(name, cleanings, flagged, overdue_min, compliance, gap):
    return {"restroom": name, "cleanings": cleanings, "flagged": flagged, "overdue_min": overdue_min,
            "compliance": compliance, "longest_gap_min": gap}


def test_ratings_by_reason_and_each_restrooms_compliance_and_longest_gap(database):
    db = open_db(database)
    ingestor = Ingestor(db)
    ingestor.store([incoming(online(), "leeds-01")], now=t("10:00"))
    ingestor.store([incoming(m) for m in (
        reasoned(1, "10:02", 1, "cleanliness"), reasoned(2, "10:03", 2, "cleanliness"), reasoned(3, "10:04", 2, "queue"),
        reasoned(4, "10:06", 5, None),
        cleaning("leeds-01", 5, t("10:05"), "gents", since_last_s=1800),
        edge_alert("leeds-01", 6, t("10:20"), "restroom_overdue", "open", "ladies"),
        cleaning("leeds-01", 7, t("10:45"), "gents", since_last_s=2400),
        cleaning("leeds-01", 8, t("10:47"), "gents", flag="too_soon"),
        edge_alert("leeds-01", 9, t("10:50"), "restroom_overdue", "cleared", "ladies"),
        cleaning("leeds-01", 10, t("10:50"), "ladies", since_last_s=5400),
        reasoned(11, "11:10", 1, "queue"),
        cleaning("leeds-01", 12, t("11:30"), "gents", since_last_s=2700),
    )], now=t("11:40"))
    run_rollups(db, t("12:00"), GoalSettings())
    assert picked(metrics(db, bucket="hour", station="leeds-01", end="2026-11-06T12:00:00.000Z")) == [
        ("10:00", {"cleanliness": 2, "queue": 1},
         [room("gents", 2, 1, 0.0, 1.0, 40.0), room("ladies", 1, 0, 30.0, 0.5, 90.0)]),
        ("11:00", {"queue": 1}, [room("gents", 1, 0, 0.0, 1.0, 45.0)]),
    ]
    day = [("00:00", {"cleanliness": 2, "queue": 2},
            [room("gents", 3, 1, 0.0, 1.0, 45.0), room("ladies", 1, 0, 30.0, 0.75, 90.0)])]
    assert picked(metrics(db, bucket="day", station="leeds-01")) == day

    # A rating replayed late into 10:00 is folded into the day without recounting the rest (the day has
    # also grown by 10 online minutes, so ladies' 30 overdue minutes are a smaller share of it).
    ingestor.store([incoming(reasoned(13, "10:30", 2, "cleanliness"))], now=t("12:05"))
    run_rollups(db, t("12:10"), GoalSettings())
    day = [("00:00", {"cleanliness": 3, "queue": 2},
            [room("gents", 3, 1, 0.0, 1.0, 45.0), room("ladies", 1, 0, 30.0, round(1 - 30 / 130, 4), 90.0)])]
    assert picked(metrics(db, bucket="day", station="leeds-01")) == day
    assert picked(metrics(db, bucket="month", station="leeds-01")) == day


def test_presses_that_are_not_ratings_and_doubtful_ratings_are_counted_per_reason(database):
    """A child's burst is one rating and one filtered_presses event: the rollups count its presses, so the
    figures say how many presses were left out and why; a flagged (simultaneous) rating still counts."""
    db = open_db(database)
    ingestor = Ingestor(db)
    burst = FilteredPresses(id=next_id(), seq=2, station="leeds-01", ts=format_ts(t("10:02")), kiosk="k1",
                            location="shop", reason="burst", presses=19, span_s=7.5)
    held = FilteredPresses(id=next_id(), seq=3, station="leeds-01", ts=format_ts(t("10:30")), kiosk="k1",
                           reason="held", presses=1)
    doubtful = rating("leeds-01", 4, t("10:40"), 2).model_copy(update={"flag": "simultaneous"})
    ingestor.store([incoming(online(), "leeds-01")], now=t("10:00"))
    ingestor.store([incoming(m) for m in (reasoned(1, "10:02", 5, None), burst, held, doubtful)], now=t("10:45"))
    run_rollups(db, t("12:00"), GoalSettings())
    [hour] = metrics(db, bucket="hour", station="leeds-01", end="2026-11-06T11:00:00.000Z")
    assert (hour["ratings"], hour["filtered_presses"], hour["doubtful_ratings"]) == (
        {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}, {"burst": 19, "held": 1}, {"simultaneous": 1})
    [day] = metrics(db, bucket="day", station="leeds-01")
    assert day["filtered_presses"] == {"burst": 19, "held": 1}


def test_the_longest_gap_counts_open_hours_only_when_the_station_says_them(database):
    """Clean at 21:50, closed 22:00-06:00, clean at 06:10: the gap is 20 open minutes, not 500 on the clock;
    an older station that sends only the clock time still gets its gap from it."""
    db = open_db(database)
    ingestor = Ingestor(db)
    morning = cleaning("leeds-01", 1, t("06:10"), "gents", since_last_s=500 * 60).model_copy(
        update={"active_since_last_s": 20 * 60})
    older = cleaning("leeds-01", 2, t("06:20"), "ladies", since_last_s=480 * 60)
    ingestor.store([incoming(online(), "leeds-01")], now=t("06:00"))
    ingestor.store([incoming(morning), incoming(older)], now=t("06:30"))
    run_rollups(db, t("08:00"), GoalSettings())
    [hour] = metrics(db, bucket="hour", station="leeds-01", end="2026-11-06T07:00:00.000Z")
    assert [(r["restroom"], r["longest_gap_min"]) for r in hour["restrooms"]] == [("gents", 20.0), ("ladies", 480.0)]
    assert hour["longest_gap_min"] == 480.0
