"""The collector's pure pieces, table-tested: seq gaps, deadlines, percentiles, intervals, score, roles,
regions, CSV, periods; and the users/stations commands on a real database file."""

from datetime import UTC, datetime

import pytest

from cloud.alerts import UTC_WEEKDAYS, due_at
from cloud.auth import AuthError, Role, authenticate, parse_role
from cloud.config import AlertSettings, ScoreSettings
from cloud.figures import measure, percentile, timeline
from cloud.rankings import PeriodError, parse_period
from cloud.registry import RegistryError, in_region, parse_csv, region_sql
from cloud.score import Totals, service_score
from cloud.sequence import SeqChange, seq_change, split_gap
from cloud.store import open_db
from forecourt.cli import main


def d(text: str) -> datetime:
    return datetime.fromisoformat(text + "+00:00")


@pytest.mark.parametrize(("last", "seq", "change"), [
    (None, 500, SeqChange(500)),
    (4, 5, SeqChange(5)),
    (4, 8, SeqChange(8, gap=(5, 7))),
    (8, 6, SeqChange(8, fills=6)),
    (8, 8, SeqChange(8, fills=8)),
])
def test_seq_change(last, seq, change):
    assert seq_change(last, seq) == change


@pytest.mark.parametrize(("gap", "seq", "left"), [
    ((5, 7), 5, [(6, 7)]), ((5, 7), 6, [(5, 5), (7, 7)]), ((5, 7), 7, [(5, 6)]), ((5, 5), 5, []),
])
def test_split_gap(gap, seq, left):
    assert split_gap(*gap, seq) == left


@pytest.mark.parametrize(("start", "due"), [
    ("2026-11-06T10:00", "2026-11-11T10:00"),  # Friday -> Wednesday
    ("2026-11-07T10:00", "2026-11-11T10:00"),  # Saturday -> Wednesday
    ("2026-11-08T23:30", "2026-11-11T23:30"),  # Sunday -> Wednesday
    ("2026-11-02T08:00", "2026-11-05T08:00"),  # Monday -> Thursday
    ("2026-11-04T08:00", "2026-11-09T08:00"),  # Wednesday -> Monday
])
def test_an_alert_of_an_unknown_station_is_due_in_three_utc_weekdays(start, due):
    assert due_at("seq_gap", d(start), AlertSettings(), UTC_WEEKDAYS) == d(due)


@pytest.mark.parametrize(("hist", "p", "value"), [
    ({}, 0.5, None), ({"7": 1}, 0.9, 7.0), ({"10": 1, "20": 1}, 0.5, 10.0), ({"10": 1, "20": 1}, 0.9, 20.0),
    ({"5": 9, "100": 1}, 0.9, 5.0), ({"5": 8, "100": 2}, 0.9, 100.0), ({"30": 2, "4": 2}, 0.5, 4.0),
])
def test_nearest_rank_percentile(hist, p, value):
    assert percentile(hist, p) == value


def test_timeline_and_measure():
    changes = [(d("2026-11-06T06:00"), True), (d("2026-11-06T06:30"), True), (d("2026-11-06T07:00"), False),
               (d("2026-11-06T08:00"), True)]
    spans = timeline(changes, until=d("2026-11-06T08:15"))
    assert spans == [(d("2026-11-06T06:00"), d("2026-11-06T07:00")), (d("2026-11-06T08:00"), d("2026-11-06T08:15"))]
    assert measure(spans) == 4500
    assert measure([(d("2026-11-06T06:00"), d("2026-11-06T07:00")), (d("2026-11-06T06:30"), d("2026-11-06T06:45"))]) == 3600


SETTINGS = ScoreSettings(min_ratings=10, min_visits=10)
# Satisfaction alone required: compliance and greeting are renormalised away when they lack data.
RATINGS_REQUIRED = ScoreSettings(min_ratings=10, min_visits=10, required=("satisfaction", "no_bad_ratings"))
FULL_DAY = 86400.0


@pytest.mark.parametrize(("totals", "settings", "score", "band"), [
    (Totals(ratings_n=100, happy_sum=100, online_s=FULL_DAY, greet_eligible=50, greet_within_goal=50, cleanings=8),
     SETTINGS, 100.0, "good"),
    # Too few ratings: satisfaction is required, so the station is not scored on compliance and greeting
    # alone (that would be (0.25 x 0.5 + 0.25 x 1) / 0.5 = 75.0).
    (Totals(ratings_n=5, happy_sum=0, online_s=FULL_DAY, overdue_s=FULL_DAY / 2, greet_eligible=10,
            greet_within_goal=10), SETTINGS, None, "insufficient"),
    (Totals(ratings_n=100, happy_sum=50, bad_n=40, online_s=FULL_DAY, greet_eligible=10, greet_within_goal=5,
            flagged=1), SETTINGS, 64.0, "review"),
    # No visits: greeting is required by default, so no score ...
    (Totals(ratings_n=100, happy_sum=20, bad_n=80, online_s=FULL_DAY, overdue_s=FULL_DAY), SETTINGS, None,
     "insufficient"),
    # ... unless it is not: (0.35 x 0.2 + 0.15 x 0.2 + 0.25 x 0) / 0.75.
    (Totals(ratings_n=100, happy_sum=20, bad_n=80, online_s=FULL_DAY, overdue_s=FULL_DAY), RATINGS_REQUIRED, 13.33,
     "exposure"),
    # No check-in and no overdue time: no compliance (not 100 %), which is required by default.
    (Totals(ratings_n=100, happy_sum=100, online_s=FULL_DAY, greet_eligible=50, greet_within_goal=50), SETTINGS,
     None, "insufficient"),
    (Totals(ratings_n=100, happy_sum=100, online_s=FULL_DAY, greet_eligible=50, greet_within_goal=50),
     RATINGS_REQUIRED, 100.0, "good"),
    (Totals(ratings_n=100, happy_sum=100, online_s=FULL_DAY * 0.49, cleanings=8, greet_eligible=50,
            greet_within_goal=50), SETTINGS, None, "insufficient"),
    (Totals(online_s=FULL_DAY), RATINGS_REQUIRED, None, "insufficient"),
])
def test_service_score(totals, settings, score, band):
    result = service_score(totals, FULL_DAY, settings)
    assert (result.score, result.band) == (score, band)
    if score is not None:
        assert result.low <= score <= result.high


def test_no_restroom_data_is_no_compliance_not_100_percent():
    quiet = service_score(Totals(ratings_n=100, happy_sum=90, online_s=FULL_DAY), FULL_DAY, RATINGS_REQUIRED)
    kept = service_score(Totals(ratings_n=100, happy_sum=90, online_s=FULL_DAY, cleanings=1), FULL_DAY, RATINGS_REQUIRED)
    assert (quiet.components["compliance"], kept.components["compliance"]) == (None, 100.0)


def test_two_five_star_ratings_and_25_visits_do_not_outrank_500_ratings_averaging_4_8():
    # The case: the first station's ratings were too few, and it used to be scored on greeting
    # and compliance alone (100.0, rank 1) above the second's 97.25.
    month = 30 * FULL_DAY
    lucky = Totals(ratings_n=2, happy_sum=2, online_s=month, cleanings=120, greet_eligible=25, greet_within_goal=25)
    # 400 fives and 100 fours (mean 4.8, Happy Index 95), none bad, 384 of 400 cars greeted in time.
    steady = Totals(ratings_n=500, happy_sum=475, online_s=month, cleanings=120, greet_eligible=400,
                    greet_within_goal=384)
    defaults = ScoreSettings()
    assert (service_score(lucky, month, defaults).score, service_score(lucky, month, defaults).band) == (
        None, "insufficient")
    assert service_score(steady, month, defaults).score == 97.25
    old = ScoreSettings(required=())  # the previous behaviour, for the record
    assert service_score(lucky, month, old).score == 100.0


def test_uncertainty_shrinks_with_more_data_and_bands_follow_the_shown_score():
    few = service_score(Totals(ratings_n=10, happy_sum=9, bad_n=1, online_s=3600), 3600, RATINGS_REQUIRED)
    many = service_score(Totals(ratings_n=1000, happy_sum=900, bad_n=100, online_s=3600 * 100), 3600 * 100,
                         RATINGS_REQUIRED)
    assert few.score == many.score
    assert (few.high - few.low) > 3 * (many.high - many.low) > 0
    edge = service_score(Totals(ratings_n=100000, happy_sum=89995, bad_n=10005, online_s=3600), 3600,
                         ScoreSettings(min_ratings=1, weights={"satisfaction": 1, "no_bad_ratings": 0,
                                                               "compliance": 0, "greeting": 0}, min_components=1,
                                       required=("satisfaction",)))
    assert (edge.score, edge.band) == (90.0, "good")  # 89.995 shows as 90.0, so it is "good"


def test_required_names_only_known_components():
    with pytest.raises(ValueError, match="unknown component"):
        ScoreSettings(required=("greetings",))


@pytest.mark.parametrize(("text", "role"), [
    ("hq", Role("hq")), ("region:north/leeds", Role("region", "north/leeds")),
    ("region: north / leeds/", Role("region", "north/leeds")), ("station:leeds-01", Role("station", "leeds-01")),
])
def test_parse_role(text, role):
    assert parse_role(text) == role


@pytest.mark.parametrize("text", ["", "admin", "hq:x", "region:", "region:a//b", "station:Leeds 01", "station:"])
def test_bad_roles_are_refused(text):
    with pytest.raises(AuthError):
        parse_role(text)


def test_region_scope_is_a_path_prefix_not_a_string_prefix(tmp_path):
    role = Role("region", "north_1")
    assert role.sees_station("x", "north_1/leeds") and not role.sees_station("x", "north_10/leeds")
    assert not role.sees_station("x", "northx1")
    db = open_db(tmp_path / "c.db")
    db.executemany("INSERT INTO stations (id, region) VALUES (?, ?)",
                   (("a", "north_1"), ("b", "north_1/leeds"), ("c", "northx1/leeds"), ("d", "north_10")))
    where, params = region_sql("region", "north_1")
    assert [r[0] for r in db.execute(f"SELECT id FROM stations WHERE {where} ORDER BY id", params)] == ["a", "b"]


def test_region_sql_selects_exactly_what_in_region_says(tmp_path):
    """SQL and Python agree on every pair, case and wildcard characters included (LIKE would not)."""
    regions = ["east", "East", "East/oslo", "east/oslo", "eastern", "ea%t", "ea_t/x", "e", "", "east/oslo/x", "EAST"]
    db = open_db(tmp_path / "c.db")
    db.executemany("INSERT INTO stations (id, region) VALUES (?, ?)", [(f"s{i}", r) for i, r in enumerate(regions)])
    for path in ["east", "East", "ea%t", "ea_t", "east/oslo", "e", "EAST", "ast"]:
        where, params = region_sql("region", path)
        got = {r[0] for r in db.execute(f"SELECT region FROM stations WHERE {where}", params)}
        assert got == {r for r in regions if in_region(r, path)}, path


def test_station_csv_errors_name_their_lines():
    assert [e.id for e in parse_csv("id,name,region\na-1,A,north\nb-2,B,\n")] == ["a-1", "b-2"]
    with pytest.raises(RegistryError) as err:
        parse_csv("id,name,region\nGood?,A,north\nb,B,north//x\nc,C,n\nc,C2,n\n")
    assert str(err.value).splitlines() == [
        "line 2: station id 'Good?' must match [a-z0-9][a-z0-9-]{0,63} (lower-case letters, digits and '-', at most "
        "64 characters)",
        "line 3: region 'north//x' has an empty segment (expected e.g. 'province/city/district')",
        "line 5: station 'c' appears twice",
    ]
    with pytest.raises(RegistryError, match="missing: region"):
        parse_csv("id,name\na,A\n")


@pytest.mark.parametrize(("kind", "at", "start", "end"), [
    ("month", "2026-12", "2026-12-01T00:00", "2027-01-01T00:00"),
    ("month", "2026-02", "2026-02-01T00:00", "2026-03-01T00:00"),
    ("week", "2026-W45", "2026-11-02T00:00", "2026-11-09T00:00"),
    ("week", "2026-W53", "2026-12-28T00:00", "2027-01-04T00:00"),
])
def test_periods(kind, at, start, end):
    period = parse_period(kind, at, datetime.now(UTC))
    assert (period.start, period.end, period.label) == (d(start), d(end), at)


@pytest.mark.parametrize(("kind", "at"), [("month", "2026-13"), ("month", "11-2026"), ("week", "2026-W54"),
                                          ("week", "2026-45"), ("year", "2026")])
def test_bad_periods(kind, at):
    with pytest.raises(PeriodError):
        parse_period(kind, at, datetime.now(UTC))


def test_users_and_stations_commands(tmp_path, capsys):
    db_path = tmp_path / "c.db"
    assert main(["users", "add", "alice", "--role", "region:north", "--database", str(db_path)]) == 0
    token = capsys.readouterr().out.strip()
    user = authenticate(open_db(db_path), token)
    assert (user.name, str(user.role)) == ("alice", "region:north")
    assert token not in (db_path.read_bytes() + (tmp_path / "c.db-wal").read_bytes()).decode("latin-1")
    assert main(["users", "add", "bob", "--role", "boss", "--database", str(db_path)]) == 2
    csv_file = tmp_path / "stations.csv"
    csv_file.write_text("id,name,region\nleeds-01,Leeds,north/leeds\n")
    assert main(["stations", "import", str(csv_file), "--database", str(db_path)]) == 0
    assert open_db(db_path).execute("SELECT id, name, region, auto_registered FROM stations").fetchall() == [
        ("leeds-01", "Leeds", "north/leeds", 0)
    ]
    csv_file.write_text("id,name,region\nLeeds,Leeds,north\n")
    assert main(["stations", "import", str(csv_file), "--database", str(db_path)]) == 1
    assert "line 2: station id 'Leeds'" in capsys.readouterr().err


def test_concurrent_writers_queue_instead_of_failing(tmp_path):
    """Ingest and the rollup job write from their own connections at once; neither may fail or lose data."""
    import threading
    from datetime import timedelta

    from cloud.config import GoalSettings
    from cloud.ingest import Ingestor
    from cloud.rollups import run_rollups
    from tests.cloud_kit import incoming, rating

    path = tmp_path / "c.db"
    open_db(path).close()
    now = datetime(2026, 11, 6, 12, tzinfo=UTC)
    errors: list[BaseException] = []
    done = threading.Event()

    def ingest() -> None:
        ingestor = Ingestor(open_db(path))
        try:
            for batch in range(40):
                events = [rating(f"s{batch % 4}", batch * 25 + i + 1, now - timedelta(minutes=batch), 3) for i in range(25)]
                report = ingestor.store([incoming(e) for e in events], now=now)
                assert report.stored == 25, report
        except BaseException as err:
            errors.append(err)
        finally:
            done.set()

    def roll_up() -> None:
        db = open_db(path)
        try:
            while not done.is_set():
                run_rollups(db, now, GoalSettings())
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=ingest), threading.Thread(target=roll_up)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    db = open_db(path)
    run_rollups(db, now, GoalSettings())
    assert db.execute("SELECT count(*) FROM events").fetchone() == (1000,)
    assert db.execute("SELECT count(*) FROM dead_letters").fetchone() == (0,)
    assert db.execute("SELECT sum(ratings_n) FROM rollups WHERE period = 'day'").fetchone() == (1000,)


def test_process_ingestor_stores_in_a_child_and_replaces_a_dead_one(tmp_path):
    from cloud.ingest import Incoming
    from cloud.worker import ProcessIngestor
    from tests.cloud_kit import incoming, rating

    now = datetime(2026, 11, 6, 12, tzinfo=UTC)
    worker = ProcessIngestor(tmp_path / "c.db").start()
    try:
        report = worker.store([incoming(rating("a", 1, now, 4)), Incoming("forecourt/v1/a/event/rating", b"{")], now=now)
        assert (report.stored, report.dead) == (1, 1)
        first_pid = worker._process.pid  # noqa: SLF001
        worker._process.kill()  # noqa: SLF001 - a crash of the child, as the OOM killer would cause it
        worker._process.join(5)  # noqa: SLF001
        assert worker.store([incoming(rating("a", 2, now, 4))], now=now).stored == 1  # a new child took over
        assert worker._process.pid != first_pid  # noqa: SLF001
    finally:
        worker.close()
    assert open_db(tmp_path / "c.db").execute("SELECT seq FROM events ORDER BY seq").fetchall() == [(1,), (2,)]


def test_a_resent_health_sample_is_a_counted_duplicate_and_acknowledged_again(tmp_path):
    """Like an event's: every message ends up stored, a counted duplicate or a dead letter, never uncounted."""
    from cloud.ingest import Ingestor
    from tests.cloud_kit import health, incoming

    now = datetime(2026, 11, 6, 12, tzinfo=UTC)
    db = open_db(tmp_path / "c.db")
    ingestor = Ingestor(db)
    sample = health("a", now)
    first = ingestor.store([incoming(sample), incoming(sample)], now=now)  # a resend inside one batch
    again = ingestor.store([incoming(sample)], now=now)  # and a resend after the commit
    assert (first.health, first.duplicates, again.health, again.duplicates) == (1, 1, 0, 1)
    assert db.execute("SELECT duplicates FROM stations WHERE id = 'a'").fetchone() == (2,)
    assert db.execute("SELECT count(*) FROM health").fetchone() == (1,)
    assert again.acks.stations["a"].health == [sample.id]  # so the station's outbox lets it go
