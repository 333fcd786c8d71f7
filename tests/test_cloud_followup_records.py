"""Follow-up items opened by the collector's job from ingested ratings, compared as whole records: one bad
rating among good ones opens one, a bad afternoon is one item, late replays join their day, re-running
changes nothing, passed deadlines escalate to the nearest manager; the API lists, acknowledges and
closes them within each caller's scope."""

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from cloud.api import create_app
from cloud.auth import Scope, add_user
from cloud.config import CollectorConfig
from cloud.followup_records import FollowupRun, acknowledge, close, list_followups, run_followups
from cloud.ingest import Ingestor
from cloud.registry import import_stations, parse_csv
from cloud.service import Jobs
from cloud.store import open_db
from tests.cloud_kit import database_setting, incoming, rating

CONFIG = CollectorConfig.model_validate({"followups": {"holidays": {"": "GB-ENG", "west": "NO"}}})
SETTINGS = CONFIG.followups
EVERYTHING = Scope()


def t(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-{text}:00+00:00")


@pytest.fixture
def db(database):
    db = open_db(database)
    import_stations(db, parse_csv(
        "id,name,region,timezone\n"
        "leeds-01,Leeds,north/leeds,Europe/London\n"
        "york-01,York,north/york,\n"  # no zone: the collector's default (UTC)
        "bergen-01,Bergen,west/bergen/sentrum,Europe/Oslo\n"
    ), now=t("11-01T00:00"))
    return db


class Kiosk:
    """One station's kiosk ratings, stored as received at a given time."""

    def __init__(self, db, station: str) -> None:
        self.ingestor, self.station, self.seq = Ingestor(db), station, 0

    def rate(self, received: str, *scored: tuple[str, int], scale: int = 5, **fields) -> list[str]:
        ratings = []
        for at, score in scored:
            self.seq += 1
            ratings.append(rating(self.station, self.seq, t(at), score, scale=scale).model_copy(update=fields))
        self.ingestor.store([incoming(r) for r in ratings], now=t(received))
        return [r.id for r in ratings]


def listed(db, at: str, **filters) -> list[dict]:
    return list_followups(db, EVERYTHING, now=t(at), **filters)


def brief(item: dict) -> tuple:
    return (item["station"], item["day"], item["opened_at"], item["follow_up"]["due_at"], item["rectify"]["due_at"],
            [r["event_id"] for r in item["ratings"]])


def test_one_bad_rating_among_four_opens_an_item_due_24_h_after_it(db):
    leeds = Kiosk(db, "leeds-01")
    ids = leeds.rate("11-06T10:30", ("11-06T10:00", 4), ("11-06T10:05", 1), ("11-06T10:10", 5), ("11-06T10:20", 3))
    assert run_followups(db, SETTINGS, t("11-06T10:31")) == FollowupRun(opened=1, listed=1, escalated=0)
    assert listed(db, "11-06T10:31") == [{
        "id": 1, "station": "leeds-01", "name": "Leeds", "region": "north/leeds", "day": "2026-11-06",
        "opened_at": "2026-11-06T10:05:00.000Z", "timezone": "Europe/London", "calendar": "GB-ENG",
        "state": "open", "overdue": False,
        "follow_up": {"due_at": "2026-11-07T10:05:00.000Z", "met_at": None, "status": "pending"},
        # Friday -> Monday, Tuesday, Wednesday at the same time in London.
        "rectify": {"due_at": "2026-11-11T10:05:00.000Z", "met_at": None, "status": "pending"},
        "ratings": [{"event_id": ids[1], "ts": "2026-11-06T10:05:00.000Z", "score": 1, "scale": 5, "kiosk": "k1",
                     "reason": None, "flag": None}],
        "escalations": [],
        "acknowledged_by": None, "acknowledged_at": None, "ack_note": None,
        "closed_by": None, "closed_at": None, "close_note": None,
    }]


def test_a_bad_afternoon_is_one_item_and_the_stations_midnight_starts_another(db):
    bergen = Kiosk(db, "bergen-01")
    # Oslo is UTC+1 in November: 13:10, 14:30 and 16:45 local; 00:30 local is the next day.
    afternoon = bergen.rate("11-06T16:00", ("11-06T12:10", 1), ("11-06T12:20", 3), ("11-06T13:30", 2),
                            ("11-06T15:45", 2))
    late_evening = bergen.rate("11-06T23:40", ("11-06T23:30", 1))
    assert run_followups(db, SETTINGS, t("11-06T23:45")) == FollowupRun(opened=2, listed=4, escalated=0)
    assert [brief(item) for item in listed(db, "11-06T23:45")] == [
        ("bergen-01", "2026-11-07", "2026-11-06T23:30:00.000Z", "2026-11-07T23:30:00.000Z",
         "2026-11-10T23:30:00.000Z", late_evening),  # Saturday in Oslo: counted from Saturday, Mon-Tue-Wed 00:30
        ("bergen-01", "2026-11-06", "2026-11-06T12:10:00.000Z", "2026-11-07T12:10:00.000Z",
         "2026-11-11T12:10:00.000Z", [afternoon[0], afternoon[2], afternoon[3]]),
    ]


def test_each_scale_has_its_own_bad_line(db):
    york = Kiosk(db, "york-01")
    three = york.rate("11-06T10:00", ("11-06T09:00", 1), ("11-06T09:01", 2), scale=3)
    four = york.rate("11-06T10:00", ("11-06T09:02", 2), ("11-06T09:03", 3), scale=4)
    run_followups(db, SETTINGS, t("11-06T10:01"))
    (item,) = listed(db, "11-06T10:01")
    assert [(r["score"], r["scale"]) for r in item["ratings"]] == [(1, 3), (2, 4)]
    assert [r["event_id"] for r in item["ratings"]] == [three[0], four[0]]
    assert (item["timezone"], item["calendar"]) == ("UTC", "GB-ENG")


def test_a_doubtful_bad_rating_is_followed_up_with_its_flag_and_reason(db):
    Kiosk(db, "leeds-01").rate("11-06T10:00", ("11-06T09:00", 1), flag="simultaneous", reason="cleanliness")
    run_followups(db, SETTINGS, t("11-06T10:01"))
    (item,) = listed(db, "11-06T10:01")
    assert [(r["flag"], r["reason"]) for r in item["ratings"]] == [("simultaneous", "cleanliness")]


def test_re_running_opens_nothing_twice_and_a_late_replay_joins_its_day(db):
    leeds = Kiosk(db, "leeds-01")
    first = leeds.rate("11-06T15:00", ("11-06T14:00", 2))
    assert run_followups(db, SETTINGS, t("11-06T15:01")).opened == 1
    before = listed(db, "11-06T15:02")
    assert run_followups(db, SETTINGS, t("11-06T15:02")) == FollowupRun(0, 0, 0)
    assert listed(db, "11-06T15:02") == before
    # The outbox replays a rating from the morning after a link outage: it joins the day's item and its
    # deadlines move to run from it.
    replayed = leeds.rate("11-06T18:00", ("11-06T09:30", 1))
    assert run_followups(db, SETTINGS, t("11-06T18:01")) == FollowupRun(opened=0, listed=1, escalated=0)
    assert [brief(item) for item in listed(db, "11-06T18:01")] == [
        ("leeds-01", "2026-11-06", "2026-11-06T09:30:00.000Z", "2026-11-07T09:30:00.000Z",
         "2026-11-11T09:30:00.000Z", replayed + first),
    ]


def test_a_closed_item_stays_closed_and_more_bad_ratings_that_day_open_a_new_one(db):
    leeds = Kiosk(db, "leeds-01")
    morning = leeds.rate("11-06T09:05", ("11-06T09:00", 1))
    run_followups(db, SETTINGS, t("11-06T09:06"))
    close(db, 1, by="manager", note="apologised, replaced the card reader", now=t("11-06T11:00"))
    afternoon = leeds.rate("11-06T15:05", ("11-06T15:00", 1))
    assert run_followups(db, SETTINGS, t("11-06T15:06")).opened == 1
    assert [(i["id"], i["day"], i["state"], [r["event_id"] for r in i["ratings"]]) for i in listed(db, "11-06T15:06")] == [
        (2, "2026-11-06", "open", afternoon), (1, "2026-11-06", "closed", morning),
    ]


def test_passed_deadlines_escalate_once_to_the_nearest_manager_then_the_next(db):
    add_user(db, "north-boss", "region:north")
    add_user(db, "leeds-manager", "station:leeds-01")
    add_user(db, "ops", "hq")
    Kiosk(db, "leeds-01").rate("11-06T10:06", ("11-06T10:05", 1))
    Kiosk(db, "bergen-01").rate("11-06T10:06", ("11-06T10:05", 1))
    run_followups(db, SETTINGS, t("11-06T10:07"))
    acknowledge(db, 2, by="bergen-manager", note="called the customer back", now=t("11-06T12:00"))

    assert run_followups(db, SETTINGS, t("11-07T10:05")).escalated == 0  # the deadline itself is in time
    assert run_followups(db, SETTINGS, t("11-07T10:06")).escalated == 1
    assert run_followups(db, SETTINGS, t("11-07T10:07")).escalated == 0  # once per stage
    assert run_followups(db, SETTINGS, t("11-11T10:06")).escalated == 2
    leeds, bergen = sorted(listed(db, "11-11T10:06"), key=lambda item: item["station"], reverse=True)
    assert (leeds["station"], leeds["overdue"], leeds["follow_up"]["status"], leeds["rectify"]["status"]) == (
        "leeds-01", True, "overdue", "overdue")
    assert leeds["escalations"] == [
        {"stage": "follow_up", "due_at": "2026-11-07T10:05:00.000Z", "escalated_at": "2026-11-07T10:06:00.000Z",
         "told": "region:north", "users": ["north-boss"]},
        {"stage": "rectify", "due_at": "2026-11-11T10:05:00.000Z", "escalated_at": "2026-11-11T10:06:00.000Z",
         "told": "hq", "users": ["ops"]},
    ]
    # Bergen was followed up in time; its rectification (Norwegian calendar, Oslo time) was not. No
    # region manager covers west, so HQ is told.
    assert (bergen["follow_up"], bergen["rectify"]["status"]) == (
        {"due_at": "2026-11-07T10:05:00.000Z", "met_at": "2026-11-06T12:00:00.000Z", "status": "met"}, "overdue")
    assert [(e["stage"], e["told"], e["users"]) for e in bergen["escalations"]] == [("rectify", "hq", ["ops"])]
    assert [i["station"] for i in listed(db, "11-11T10:06", escalated=True, overdue=True)] == ["bergen-01", "leeds-01"]

    closed = close(db, 1, by="north-boss", note="kiosk moved out of the draught", now=t("11-11T12:00"))
    assert (closed["state"], closed["overdue"], closed["follow_up"]["status"], closed["rectify"]["status"]) == (
        "closed", False, "late", "late")
    assert (closed["closed_by"], closed["close_note"], closed["closed_at"]) == (
        "north-boss", "kiosk moved out of the draught", "2026-11-11T12:00:00.000Z")
    assert [i["id"] for i in listed(db, "11-11T12:00", overdue=True)] == [2]


def test_the_collector_job_opens_follow_ups_after_rollups_and_rules(db, database):
    Kiosk(db, "leeds-01").rate("11-06T10:06", ("11-06T10:05", 2))
    config = CONFIG.model_copy(update={"database": CONFIG.database.model_copy(update=database_setting(database))})
    hours, _alerts, opened = Jobs(config, clock=lambda: t("11-06T10:30")).run_once(db)
    assert (hours, opened) == (1, 1)
    assert Jobs(config, clock=lambda: t("11-06T10:31")).run_once(db)[2] == 0


@pytest.fixture
def api(db, database):
    Kiosk(db, "leeds-01").rate("11-06T10:06", ("11-06T10:05", 1))
    Kiosk(db, "york-01").rate("11-06T10:06", ("11-06T10:05", 1))
    Kiosk(db, "bergen-01").rate("11-06T10:06", ("11-06T10:05", 1))
    run_followups(db, SETTINGS, t("11-06T10:07"))
    tokens = {name: add_user(db, name, role) for name, role in
              (("hq", "hq"), ("north", "region:north"), ("leeds", "station:leeds-01"))}
    clock = [t("11-06T11:00")]
    client = TestClient(create_app(database, clock=lambda: clock[0], dashboard=False))
    ids = {item["station"]: item["id"] for item in listed(db, "11-06T11:00")}
    return client, tokens, clock, ids


def call(client, token, method, path, **kwargs):
    return client.request(method, f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, **kwargs)


def test_the_api_lists_follow_ups_within_each_callers_scope(api):
    client, tokens, _, ids = api
    assert client.get("/api/v1/followups").status_code == 401

    def stations(name, **params):
        response = call(client, tokens[name], "GET", "/followups", params=params)
        return sorted(i["station"] for i in response.json()) if response.status_code == 200 else response.status_code

    assert stations("hq") == ["bergen-01", "leeds-01", "york-01"]
    assert stations("north") == ["leeds-01", "york-01"]
    assert stations("leeds") == ["leeds-01"]
    assert stations("north", region="west") == 403
    assert stations("leeds", station="york-01") == 403
    assert stations("hq", station="bergen-01", state="open") == ["bergen-01"]
    assert call(client, tokens["leeds"], "GET", f"/followups/{ids['york-01']}").status_code == 403
    assert call(client, tokens["hq"], "GET", "/followups/999").status_code == 404


def test_acknowledge_and_close_with_a_note_are_recorded_and_checked(api):
    client, tokens, clock, ids = api
    leeds = ids["leeds-01"]
    assert call(client, tokens["leeds"], "POST", f"/followups/{ids['bergen-01']}/acknowledge",
                json={"note": "x"}).status_code == 403
    acked = call(client, tokens["leeds"], "POST", f"/followups/{leeds}/acknowledge", json={"note": "rang the customer"})
    assert acked.status_code == 200
    assert (acked.json()["state"], acked.json()["acknowledged_by"], acked.json()["ack_note"],
            acked.json()["follow_up"]["status"]) == ("acknowledged", "leeds", "rang the customer", "met")
    assert call(client, tokens["leeds"], "POST", f"/followups/{leeds}/acknowledge", json={}).status_code == 409
    for blank in ({}, {"note": ""}, {"note": "   "}):
        assert call(client, tokens["leeds"], "POST", f"/followups/{leeds}/close", json=blank).status_code == 422, blank
    clock[0] = t("11-09T09:00")
    done = call(client, tokens["north"], "POST", f"/followups/{leeds}/close", json={"note": "new cleaning rota"})
    assert done.status_code == 200
    assert (done.json()["state"], done.json()["closed_by"], done.json()["closed_at"], done.json()["close_note"],
            done.json()["rectify"]["status"]) == ("closed", "north", "2026-11-09T09:00:00.000Z", "new cleaning rota", "met")
    assert call(client, tokens["hq"], "POST", f"/followups/{leeds}/close", json={"note": "again"}).status_code == 409
    listed_closed = call(client, tokens["hq"], "GET", "/followups", params={"state": "closed"}).json()
    assert [i["id"] for i in listed_closed] == [leeds]
