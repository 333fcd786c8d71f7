"""A station's figures over a whole window (the station page's "last 7 days"), not its latest hour's: the
percentiles of every visit in the window, with the histograms they come from."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from cloud.api import create_app
from cloud.auth import add_user
from cloud.config import CollectorConfig
from cloud.ingest import Ingestor
from cloud.registry import import_stations, parse_csv
from cloud.rollups import run_rollups
from cloud.store import open_db
from tests.cloud_kit import incoming, online, visit

NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
# (hours before NOW, greet_s, dwell_s): the latest hour is quick, the week before it slow.
VISITS = [(150, 200, 400), (100, 30, 250), (80, 240, 500), (50, 90, 320), (30, None, 200), (2, 100, 300),
          (0.2, 20, 120), (0.1, 25, 130), (8 * 24, 5, 60)]  # the last one is older than the window


def nearest_rank(values: list[float], p: float) -> float:
    return sorted(values)[max(1, math.ceil(p * len(values))) - 1]


@pytest.fixture
def api(tmp_path):
    db = open_db(tmp_path / "collector.db")
    import_stations(db, parse_csv("id,name,region\nleeds-01,Leeds,north/leeds\nyork-01,York,north/york\n"), now=NOW)
    ingestor = Ingestor(db)
    ingestor.store([incoming(online(), "leeds-01")], now=NOW - timedelta(days=9))
    for seq, (hours, greet, dwell) in enumerate(VISITS, start=1):
        at = NOW - timedelta(hours=hours)
        ingestor.store([incoming(visit("leeds-01", seq, at, greet_s=greet, dwell_s=dwell))], now=at)
    run_rollups(db, NOW, CollectorConfig().goals)
    tokens = {name: add_user(db, name, role) for name, role in (("hq", "hq"), ("york", "station:york-01"))}
    client = TestClient(create_app(tmp_path / "collector.db", clock=lambda: NOW, dashboard=False))
    return lambda path, who="hq", **params: client.get(path, params=params, headers={"Authorization": f"Bearer {tokens[who]}"})


def test_the_weeks_figures_are_every_visit_of_the_week(api):
    week = api("/api/v1/stations/leeds-01/summary").json()
    assert (week["start"], week["end"]) == ("2026-11-13T13:00:00.000Z", "2026-11-20T13:00:00.000Z")
    inside = [v for v in VISITS if v[0] < 7 * 24]
    greets = [g for _, g, _ in inside if g is not None]
    dwells = [d for *_, d in inside]
    assert (week["visits"], week["greeted"], week["greet_judged"]) == (len(inside), len(greets), len(inside))
    assert (week["greet_p50"], week["greet_p90"]) == (nearest_rank(greets, 0.5), nearest_rank(greets, 0.9)) == (90, 240)
    assert (week["dwell_p50"], week["dwell_p90"]) == (nearest_rank(dwells, 0.5), nearest_rank(dwells, 0.9))
    assert week["greet_within_goal"] == round(sum(g <= 60 for g in greets) / len(inside), 4)
    assert sum(week["greet_hist"].values()) == week["greeted"] and sum(week["dwell_hist"].values()) == week["visits"]

    latest = api("/api/v1/metrics", station="leeds-01", bucket="hour").json()[-1]
    assert (latest["greet_p50"], latest["greet_p90"]) == (20, 25), "the latest hour alone says something else"


def test_a_window_is_whole_hours_from_start_to_end(api):
    day = api("/api/v1/stations/leeds-01/summary", start="2026-11-19T12:10:00Z", end="2026-11-20T12:00:00Z").json()
    assert (day["start"], day["end"]) == ("2026-11-19T12:00:00.000Z", "2026-11-20T12:00:00.000Z")
    assert (day["visits"], day["greet_p50"]) == (1, 100)  # 2 h before NOW; the quick ones are in the hour after


def test_the_summary_is_scoped_like_the_station(api):
    assert api("/api/v1/stations/leeds-01/summary", who="york").status_code == 403
    assert api("/api/v1/stations/york-01/summary", who="york").json()["visits"] == 0
