"""A scripted station day, ingested at the times it happens, with exact rollups, scores, ranking and
alerts compared as whole rows. Friday 2026-11-06 (UTC), so the 3-working-day deadlines skip a weekend."""

from datetime import UTC, datetime

import pytest

from cloud.config import CollectorConfig
from cloud.ingest import Ingestor
from cloud.rankings import parse_period, rankings
from cloud.registry import import_stations, parse_csv
from cloud.rollups import metrics, run_rollups
from cloud.rules import run_rules
from cloud.store import open_db
from forecourt.protocol import Status
from tests.cloud_kit import cleaning, edge_alert, health, incoming, online, rating, visit

CONFIG = CollectorConfig.model_validate({
    "score": {"min_ratings": 5, "min_visits": 3, "min_online_share": 0.0},
    "alerts": {"bad_rate_min_ratings": 5, "greet_min_visits": 3},
})
OFFLINE = Status(state="offline")


def t(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-{text}:00+00:00")


class Station:
    """Feeds one station's messages through the ingestor at the time each happens, numbering seqs."""

    def __init__(self, ingestor: Ingestor, station: str) -> None:
        self.ingestor, self.station, self.seq = ingestor, station, 0

    def status(self, at: str, status: Status) -> None:
        self.ingestor.store([incoming(status, self.station)], now=t(at))

    def send(self, at: str, make, *args, skip: int = 0, **kwargs) -> None:
        self.seq += 1 + skip
        message = make(self.station, self.seq, t(at), *args, **kwargs)
        self.ingestor.store([incoming(message)], now=t(at))

    def health(self, at: str, fps: float) -> None:
        self.ingestor.store([incoming(health(self.station, t(at), camera_fps=fps))], now=t(at))


def job(db, at: str) -> None:
    run_rollups(db, t(at), CONFIG.goals)
    run_rules(db, CONFIG.alerts, t(at))


@pytest.fixture
def day(database):
    db = open_db(database)
    import_stations(db, parse_csv(
        "id,name,region\nleeds-01,Leeds,north/leeds\nyork-01,York,north/york\nbath-01,Bath,south/bath\n"
    ), now=t("01T00:00"))
    ingestor = Ingestor(db)
    york = Station(ingestor, "york-01")
    # The previous month, for York's trend: adequate, every restroom kept, every car greeted in time.
    ingestor.store([incoming(online(), "york-01")], now=datetime(2026, 10, 30, 6, 0, tzinfo=UTC))
    for minute in range(6):
        york.seq += 1
        ingestor.store([incoming(rating("york-01", york.seq, datetime(2026, 10, 30, 6, 10 + minute, tzinfo=UTC), 3))],
                       now=datetime(2026, 10, 30, 6, 20, tzinfo=UTC))
    for minute in range(3):
        york.seq += 1
        ingestor.store([incoming(visit("york-01", york.seq, datetime(2026, 10, 30, 7, 10 + minute, tzinfo=UTC),
                                       greet_s=30, dwell_s=200))], now=datetime(2026, 10, 30, 7, 20, tzinfo=UTC))
    york.seq += 1  # a check-in: compliance needs restroom data (no data is not 100 %)
    ingestor.store([incoming(cleaning("york-01", york.seq, datetime(2026, 10, 30, 7, 30, tzinfo=UTC)))],
                   now=datetime(2026, 10, 30, 7, 30, tzinfo=UTC))
    ingestor.store([incoming(OFFLINE, "york-01")], now=datetime(2026, 10, 30, 8, 0, tzinfo=UTC))

    leeds = Station(ingestor, "leeds-01")
    leeds.status("06T06:00", online())
    york.status("06T06:00", online())
    leeds.health("06T06:05", 8.0)
    leeds.send("06T06:10", rating, 5)
    leeds.send("06T06:15", cleaning, "r1")
    leeds.send("06T06:18", cleaning, "r1", flag="too_soon")
    leeds.send("06T06:20", rating, 4)
    leeds.send("06T06:30", rating, 1, location="restroom")
    leeds.send("06T06:30", visit, greet_s=20, dwell_s=300)
    leeds.health("06T06:35", 6.0)
    leeds.send("06T06:40", rating, 2, scale=4, location="restroom")
    leeds.send("06T06:45", visit, greet_s=90, dwell_s=400)
    leeds.send("06T06:50", rating, 3, scale=3)
    leeds.send("06T06:55", visit, greet_s=None, dwell_s=200)
    leeds.send("06T06:58", visit, greet_s=10, dwell_s=100, min_fps=1.0)
    for minute in (10, 20, 30, 40, 50, 55):
        york.send(f"06T06:{minute}", rating, 5)
    for minute in (10, 20, 30):
        york.send(f"06T07:{minute}", visit, greet_s=15, dwell_s=250)
    york.send("06T07:35", cleaning, "r1")
    leeds.send("06T07:15", edge_alert, "restroom_overdue", "open", "r1")
    leeds.send("06T07:20", rating, 1)
    leeds.send("06T07:21", rating, 1)
    leeds.send("06T07:22", rating, 1)
    leeds.send("06T07:30", rating, 5, skip=1)  # one event lost on the way: a seq gap
    job(db, "06T07:40")
    leeds.send("06T07:45", edge_alert, "restroom_overdue", "cleared", "r1")
    leeds.send("06T07:45", cleaning, "r1", since_last_s=5400)
    leeds.health("06T08:30", 8.0)
    leeds.send("06T09:10", edge_alert, "kiosk_button_stuck", "open", "k1")
    leeds.status("06T10:00", OFFLINE)
    york.status("06T10:15", OFFLINE)
    job(db, "06T10:20")
    return db


def _metric(bucket, ratings, hi, bad, rr, hir, cleanings, compliance, gap, episodes, flagged, visits, vph,
            greet, within, dwell, online_min, fps, excluded, restrooms=()):
    return {
        "bucket": bucket, "ratings": dict(zip("12345", ratings, strict=True)), "happy_index": hi, "bad_rate": bad,
        "ratings_restroom": rr, "happy_index_restroom": hir, "ratings_by_reason": {}, "doubtful_ratings": {},
        "filtered_presses": {}, "cleanings": cleanings,
        "compliance": compliance, "longest_gap_min": gap, "overdue_episodes": episodes, "flagged": flagged,
        "visits": visits, "vehicles_per_hour": vph, "greet_p50": greet[0], "greet_p90": greet[1],
        "greet_within_goal": within, "dwell_p50": dwell[0], "dwell_p90": dwell[1], "restrooms": list(restrooms),
        "coverage": {"online_min": online_min, "camera_fps": fps, "excluded": excluded, "poisoned_hours": 0},
    }


def test_hourly_and_daily_rollups(day):
    none2 = (None, None)

    def r1(cleanings, flagged, overdue_min, compliance, gap):
        return {"restroom": "r1", "cleanings": cleanings, "flagged": flagged, "overdue_min": overdue_min,
                "compliance": compliance, "longest_gap_min": gap}

    assert metrics(day, bucket="hour", station="leeds-01", start="2026-11-06T00:00:00.000Z") == [
        _metric("2026-11-06T06:00:00.000Z", (1, 1, 1, 1, 1), 61.67, 0.4, 2, 16.67, 1, 1.0, None, 0, 1, 4, 4.0,
                (20.0, 90.0), 0.3333, (200.0, 400.0), 60.0, 7.0, {"flagged_checkin": 1, "low_fps_visit": 1},
                [r1(1, 1, 0.0, 1.0, None)]),
        _metric("2026-11-06T07:00:00.000Z", (3, 0, 0, 0, 1), 25.0, 0.75, 0, None, 1, 0.5, 90.0, 1, 0, 0, 0.0,
                none2, None, none2, 60.0, None, {}, [r1(1, 0, 30.0, 0.5, 90.0)]),
        _metric("2026-11-06T08:00:00.000Z", (0,) * 5, None, None, 0, None, 0, 1.0, None, 0, 0, 0, 0.0,
                none2, None, none2, 60.0, 8.0, {}),
        _metric("2026-11-06T09:00:00.000Z", (0,) * 5, None, None, 0, None, 0, 1.0, None, 0, 0, 0, 0.0,
                none2, None, none2, 60.0, None, {}),
        _metric("2026-11-06T10:00:00.000Z", (0,) * 5, None, None, 0, None, 0, None, None, 0, 0, 0, None,
                none2, None, none2, 0.0, None, {}),
    ]
    daily = _metric("2026-11-06T00:00:00.000Z", (4, 1, 1, 1, 2), 45.37, 0.5556, 2, 16.67, 2, 0.875, 90.0, 1, 1, 4,
                    1.0, (20.0, 90.0), 0.3333, (200.0, 400.0), 240.0, 7.33, {"flagged_checkin": 1, "low_fps_visit": 1},
                    [r1(2, 1, 30.0, 0.875, 90.0)])
    assert metrics(day, bucket="day", station="leeds-01", start="2026-11-01T00:00:00.000Z") == [daily]
    assert metrics(day, bucket="month", station="leeds-01", start="2026-11-01T00:00:00.000Z") == [
        {**daily, "bucket": "2026-11-01T00:00:00.000Z"}
    ]
    # The region adds both northern stations: 9 + 6 ratings, 4 + 3 visits, 240 + 255 online minutes.
    (north,) = metrics(day, bucket="day", region="north", start="2026-11-06T00:00:00.000Z")
    assert (north["ratings"], north["visits"], north["coverage"]["online_min"], north["greet_within_goal"]) == (
        {"1": 4, "2": 1, "3": 1, "4": 1, "5": 8}, 7, 495.0, round(4 / 6, 4)
    )


def test_month_ranking_with_scores_bands_uncertainty_and_trend(day):
    rows = rankings(day, parse_period("month", "2026-11", t("06T10:20")), t("06T10:20"), CONFIG.score)
    elapsed = 5 * 86400 + 10 * 3600 + 20 * 60
    leeds_coverage = {"online_min": 240.0, "online_share": round(14400 / elapsed, 4)}
    assert rows == [
        {"rank": 1, "station": "york-01", "name": "York", "region": "north/york", "score": 100.0, "band": "good",
         "score_low": 85.56, "score_high": 100.0, "previous_score": 82.5, "trend": 17.5, "open_alerts": 0,
         "coverage": {"online_min": 255.0, "online_share": round(15300 / elapsed, 4), "ratings": 6, "visits_judged": 3},
         "components": {"satisfaction": 100.0, "no_bad_ratings": 100.0, "compliance": 100.0, "greeting": 100.0}},
        {"rank": 2, "station": "leeds-01", "name": "Leeds", "region": "north/leeds", "score": 52.75,
         "band": "exposure", "score_low": 34.98, "score_high": 70.53, "previous_score": None, "trend": None,
         "open_alerts": 6, "coverage": {**leeds_coverage, "ratings": 9, "visits_judged": 3},
         "components": {"satisfaction": 45.37, "no_bad_ratings": 44.44, "compliance": 87.5, "greeting": 33.33}},
        {"rank": None, "station": "bath-01", "name": "Bath", "region": "south/bath", "score": None,
         "band": "insufficient", "score_low": None, "score_high": None, "previous_score": None, "trend": None,
         "open_alerts": 0, "coverage": {"online_min": 0.0, "online_share": 0.0, "ratings": 0, "visits_judged": 0},
         "components": {"satisfaction": None, "no_bad_ratings": None, "compliance": None, "greeting": None}},
    ]
    south = rankings(day, parse_period("month", "2026-11", t("06T10:20")), t("06T10:20"), CONFIG.score, region="south")
    assert [(r["station"], r["rank"]) for r in south] == [("bath-01", None)]


def test_alerts_opened_by_the_rules_with_deadlines(day):
    rows = day.execute(
        "SELECT station, rule, subject, opened_at, due_at, state FROM alerts ORDER BY opened_at, rule"
    ).fetchall()
    assert rows == [
        ("leeds-01", "restroom_overdue", "r1", "2026-11-06T07:30:00.000Z", "2026-11-11T07:30:00.000Z", "open"),
        ("leeds-01", "bad_rating_rate", "", "2026-11-06T07:40:00.000Z", "2026-11-07T07:40:00.000Z", "open"),
        ("leeds-01", "greeting_goal", "", "2026-11-06T07:40:00.000Z", "2026-11-11T07:40:00.000Z", "open"),
        ("leeds-01", "seq_gap", "seq 16-16", "2026-11-06T07:40:00.000Z", "2026-11-11T07:40:00.000Z", "open"),
        ("leeds-01", "stuck_button", "k1", "2026-11-06T09:10:00.000Z", "2026-11-11T09:10:00.000Z", "open"),
        ("leeds-01", "station_offline", "", "2026-11-06T10:10:00.000Z", "2026-11-11T10:10:00.000Z", "open"),
    ]
    # The station reported the restroom clean again at 07:45: the alert says so, and stays for a person to resolve.
    assert day.execute("SELECT cleared_at FROM alerts WHERE rule = 'restroom_overdue'").fetchone() == (
        "2026-11-06T07:45:00.000Z",
    )
    # Evaluating again opens nothing new; York, offline since 10:15, is "offline > 10 min" only after 10:25.
    assert run_rules(day, CONFIG.alerts, t("06T10:25")) == 0
    assert run_rules(day, CONFIG.alerts, t("06T10:26")) == 1
    assert day.execute("SELECT station, rule, opened_at FROM alerts WHERE station = 'york-01'").fetchall() == [
        ("york-01", "station_offline", "2026-11-06T10:25:00.000Z")
    ]
