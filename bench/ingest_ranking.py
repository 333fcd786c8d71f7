"""The ranking half of bench/ingest.py: a chain's month of daily rollups loaded into a database, then ranked."""

import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloud.config import CollectorConfig, GoalSettings
from cloud.figures import hour_row
from cloud.rankings import parse_period, rankings
from cloud.rollups import COLUMNS, apply_hour
from cloud.store import ROLLUP_JSON, ROLLUP_MAXES, open_db
from forecourt.protocol import format_ts


def bench_ranking(n_stations: int, days: int, database: str | Path) -> list[float]:
    """Seconds per ranking of a month, 3 runs, over ``n_stations`` x ``days`` of daily rollups in ``database``."""
    db = open_db(database)
    rng = random.Random(7)
    start_day = datetime(2026, 11, 1, tzinfo=UTC)
    regions = [f"p{p}/c{c}" for p in range(10) for c in range(10)]
    with db.transaction():
        db.insert_rows("stations", ("id", "name", "region"),
                       [(f"st{i:05d}", f"Station {i}", regions[i % len(regions)]) for i in range(n_stations)])
    for d in range(days):
        bucket = (start_day + timedelta(days=d)).strftime("%Y-%m-%d")
        rows = []
        for i in range(n_stations):
            ratings = rng.randint(0, 80)
            values = {c: 0 for c in COLUMNS if c not in ROLLUP_JSON}
            values.update(ratings_n=ratings, happy_sum=ratings * rng.uniform(0.4, 0.95), bad_n=ratings * rng.uniform(0, 0.3),
                          online_s=86400 * rng.uniform(0.7, 1), overdue_s=rng.uniform(0, 7200), visits=200,
                          greet_eligible=200, greet_within_goal=rng.randint(120, 200))
            rows.append((f"st{i:05d}", "day", bucket, 1, *[values.get(c, "{}") for c in COLUMNS]))
        with db.transaction():
            db.insert_rows("rollups", ("station", "period", "bucket", "complete", *COLUMNS), rows)
    # Month rows from the day rows with the same sums the job keeps (these rows' histograms are empty).
    sums = ", ".join(f"MAX({c})" if c in ROLLUP_MAXES else f"SUM({c})" for c in COLUMNS if c not in ROLLUP_JSON)
    plain = [c for c in COLUMNS if c not in ROLLUP_JSON]
    with db.transaction():
        db.execute(
            f"INSERT INTO rollups (station, period, bucket, complete, {', '.join(plain)}) "
            f"SELECT station, 'month', substr(bucket, 1, 7), 1, {sums} FROM rollups WHERE period = 'day' "
            "GROUP BY station, substr(bucket, 1, 7)"
        )
    if db.dialect.name == "postgresql":
        db.execute("ANALYZE")  # as autovacuum would soon after such a load; the planner needs the row counts
    # What the rollup job pays in the database per recomputed station-hour (hour, day and month rows),
    # on a sample, before the ranking is timed.
    sample = min(1000, n_stations)
    hour = hour_row([{"kind": "rating", "score": 4, "scale": 5}], [8.0], online_s=3600, overdue_s=0, goals=GoalSettings())
    last_day = start_day + timedelta(days=days - 1, hours=12)
    start = time.perf_counter()
    with db.transaction():
        for i in range(sample):
            apply_hour(db, f"st{i:05d}", format_ts(last_day)[:13], hour, last_day + timedelta(days=1))
    print(f"{db.dialect.name}: rollup job, database work per station-hour: "
          f"{(time.perf_counter() - start) / sample * 1000:.2f} ms (sample of {sample:,})", flush=True)
    config = CollectorConfig()
    period = parse_period("month", "2026-11", start_day + timedelta(days=days))
    times = []
    for _ in range(3):
        start = time.perf_counter()
        result = rankings(db, period, start_day + timedelta(days=days), config.score)
        times.append(time.perf_counter() - start)
    ranked = sum(r["rank"] is not None for r in result)
    print(f"{db.dialect.name}: ranking {len(result):,} stations ({ranked:,} ranked) over {days} days of daily rollups",
          flush=True)
    db.close()
    return times
