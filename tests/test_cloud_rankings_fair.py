"""Fair rankings end to end (ingest -> rollups -> ranking): a station whose ratings are too few is not scored
on its other components to rank first, and a station without restroom data has no compliance, not 100 %."""

from datetime import UTC, datetime, timedelta

from cloud.config import GoalSettings, ScoreSettings
from cloud.ingest import Ingestor
from cloud.rankings import parse_period, rankings
from cloud.registry import import_stations, parse_csv
from cloud.rollups import run_rollups
from cloud.store import open_db
from tests.cloud_kit import cleaning, incoming, online, rating, visit

START = datetime(2026, 11, 1, tzinfo=UTC)
NOW = START + timedelta(days=1)


def day_of(ingestor: Ingestor, station: str, *, fives: int, fours: int, visits: int, greeted: int, cleanings: int) -> None:
    ingestor.store([incoming(online(), station)], now=START)
    at = START + timedelta(hours=6)
    messages, seq = [], 0
    for score, count in ((5, fives), (4, fours)):
        for _ in range(count):
            seq += 1
            messages.append(rating(station, seq, at + timedelta(seconds=seq), score))
    for n in range(visits):
        seq += 1
        messages.append(visit(station, seq, at + timedelta(minutes=10 + n), greet_s=30 if n < greeted else 120,
                              dwell_s=240))
    for n in range(cleanings):
        seq += 1
        messages.append(cleaning(station, seq, at + timedelta(hours=1 + n)))
    ingestor.store([incoming(m) for m in messages], now=at + timedelta(hours=12))


def test_few_ratings_do_not_rank_first_and_no_restroom_data_is_not_full_compliance(database):
    db = open_db(database)
    import_stations(db, parse_csv("id,name,region\nlucky,Lucky,north\nsteady,Steady,north\ndry,Dry,north\n"), now=START)
    ingestor = Ingestor(db)
    day_of(ingestor, "lucky", fives=2, fours=0, visits=25, greeted=25, cleanings=6)
    day_of(ingestor, "steady", fives=400, fours=100, visits=25, greeted=24, cleanings=6)
    day_of(ingestor, "dry", fives=400, fours=100, visits=25, greeted=25, cleanings=0)
    run_rollups(db, NOW, GoalSettings())
    rows = rankings(db, parse_period("month", "2026-11", NOW), NOW, ScoreSettings())
    assert [(r["station"], r["rank"], r["score"], r["band"], r["components"]) for r in rows] == [
        ("steady", 1, 97.25, "good",
         {"satisfaction": 95.0, "no_bad_ratings": 100.0, "compliance": 100.0, "greeting": 96.0}),
        ("dry", None, None, "insufficient",
         {"satisfaction": 95.0, "no_bad_ratings": 100.0, "compliance": None, "greeting": 100.0}),
        ("lucky", None, None, "insufficient",
         {"satisfaction": None, "no_bad_ratings": None, "compliance": 100.0, "greeting": 100.0}),
    ]
    # Without required components, each is scored on what it has and lucky ranks first on 100.0 (before
    # this rule dry, too, ranked above steady, on a compliance of 100 % from no restroom data: 98.25).
    before = rankings(db, parse_period("month", "2026-11", NOW), NOW, ScoreSettings(required=()))
    assert [(r["station"], r["rank"], r["score"]) for r in before] == [
        ("lucky", 1, 100.0), ("dry", 2, 97.67), ("steady", 3, 97.25)]
