"""The collector's /metrics: a running collector (ingest in its child process, as shipped) on a real broker,
real traffic from a station, and the exposition read back with prometheus-client's own parser and checked
against the database it describes."""

import json
import sqlite3
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cloud.auth import add_user
from cloud.broker_sys import BrokerSys, parse_sys
from cloud.config import CollectorConfig
from cloud.ingest_metrics import FAMILIES, reason_family
from cloud.registry import StationEntry, import_stations
from cloud.rules import Rule
from cloud.service import CollectorService
from cloud.store import open_db
from forecourt import __version__
from forecourt.broker import free_port
from forecourt.errors import ProtocolError
from forecourt.protocol import decode, encode, status_topic
from tests.cloud_kit import health, online, rating, wait_until
from tests.mqtt import connect, publish

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def refusal(topic: str, payload: bytes) -> str:
    try:
        decode(topic, payload, now=NOW)
    except ProtocolError as err:
        return str(err)
    raise AssertionError("decoded")


GOOD = json.loads(encode(rating("a", 1, NOW, 4))[1])


@pytest.mark.parametrize(("topic", "payload", "family"), [
    ("forecourt/v1/a/event/rating", b"x" * 17000, "size"),
    ("forecourt/v1/a/event/rating", b"\xff\xfe", "encoding"),
    ("forecourt/v1/a/event/rating", b"{not json", "json"),
    ("forecourt/v1/a/event/rating", b"[1, 2]", "json"),
    ("forecourt/v1/a/nonsense", b"{}", "topic"),
    ("forecourt/v1/a/event/rating", json.dumps({**GOOD, "v": 2}).encode(), "version"),
    ("forecourt/v1/a/event/rating", json.dumps({k: v for k, v in GOOD.items() if k != "v"}).encode(), "version"),
    ("forecourt/v1/a/event/rating", json.dumps({**GOOD, "station": "b"}).encode(), "station"),
    ("forecourt/v1/a/event/cleaning", json.dumps(GOOD).encode(), "kind"),
    ("forecourt/v1/a/event/rating", json.dumps({**GOOD, "score": 9}).encode(), "schema"),
    ("forecourt/v1/a/event/rating", json.dumps({**GOOD, "ts": "2020-01-01T00:00:00.000Z"}).encode(), "time"),
])
def test_each_refusal_of_the_decoder_has_its_family(topic, payload, family):
    assert reason_family(refusal(topic, payload)) == family


def test_the_collectors_own_reasons_have_families_and_anything_else_is_other():
    assert reason_family("storage error: NOT NULL constraint failed") == "storage"
    assert reason_family("undecodable: KeyError: 'x'") == "undecodable"
    assert reason_family("Something nobody wrote yet") == "other"
    assert set(FAMILIES) >= {"storage", "undecodable", "schema", "other"}


@pytest.mark.parametrize(("topic", "payload", "parsed"), [
    ("$SYS/broker/clients/connected", b"12", ("clients/connected", 12.0)),
    ("$SYS/broker/uptime", b"3600 seconds", ("uptime", 3600.0)),
    ("$SYS/broker/version", b"mosquitto version 2.0.11", ("version", "2.0.11")),
    ("$SYS/broker/load/messages/received/1min", b"3.5", None),  # Prometheus computes rates itself
    ("$SYS/broker/clients/connected", b"lots", None),
    ("$SYS/broker/clients/connected", b"\xff", None),
    ("forecourt/v1/a/status", b"1", None),
])
def test_sys_topics_we_keep_parse_and_the_rest_are_ignored(topic, payload, parsed):
    assert parse_sys(topic, payload) == parsed


def test_broker_sys_keeps_the_latest_value():
    figures = BrokerSys(clock=lambda: 100.0)
    assert figures.update("$SYS/broker/clients/connected", b"3")
    assert figures.update("$SYS/broker/clients/connected", b"4")
    assert not figures.update("$SYS/broker/load/bytes/sent/1min", b"9")
    assert figures.snapshot() == ({"clients/connected": 4.0}, None, 100.0)


# -- a running collector --------------------------------------------------------------------------------


def scrape(port: int, token: str | None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, as prometheus-client's parser reads the exposition."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text) for s in family.samples
    }


def one(found: dict, metric: str, **labels: str) -> float:
    return found[(metric, tuple(sorted(labels.items())))]


def rows(db_path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture
def collector(broker, tmp_path):
    port = free_port()
    config = CollectorConfig.model_validate({
        "mqtt": {"url": broker.url, "username": "collector", "password": broker.users["collector"],
                 "client_id": "collector-metrics-test"},
        "database": {"path": str(tmp_path / "collector.db")},
        "http": {"listen": f"127.0.0.1:{port}"},
        "ingest": {"batch_wait_ms": 5, "worker_process": True},
    })
    db = open_db(config.database.path)
    import_stations(db, [StationEntry("a", "Alpha Vei", "north/oslo", None), StationEntry("b", "Bravo", "south", None)],
                    now=datetime.now(UTC))
    tokens = {"hq": add_user(db, "prometheus", "hq"), "region": add_user(db, "nora", "region:north")}
    db.close()
    service = CollectorService(config).start()
    try:
        yield service, port, tokens
    finally:
        service.stop()


def test_metrics_after_real_traffic_agree_with_the_database(broker, collector):
    service, port, tokens = collector
    db_path = service.config.database.path
    now = datetime.now(UTC)
    station = connect(broker, "a")
    other = connect(broker, "b")
    try:
        publish(station, status_topic("a"), encode(online(), "a")[1], retain=True)
        sent = [rating("a", seq, now - timedelta(seconds=30), 2 + seq % 3) for seq in (1, 2, 4, 5)]  # 3 is missing
        for event in sent:
            publish(station, *encode(event))
        publish(station, *encode(sent[1]))  # a resend: a duplicate
        publish(station, "forecourt/v1/a/event/rating", b"{not json")
        publish(station, "forecourt/v1/a/event/rating", json.dumps({**json.loads(encode(sent[0])[1]),
                                                                     "id": "bad0000001", "seq": 6, "score": 9}).encode())
        sample = health("a", now).model_copy(update={"outbox_depth": 7})
        publish(station, *encode(sample))
        publish(other, *encode(rating("b", 1, now - timedelta(seconds=2), 5)))
        assert wait_until(lambda: len(rows(db_path, "SELECT id FROM events")) == 5
                          and len(rows(db_path, "SELECT id FROM dead_letters")) == 2
                          and rows(db_path, "SELECT health_at FROM stations WHERE id = 'a'")[0][0] is not None
                          and rows(db_path, "SELECT status FROM stations WHERE id = 'a'")[0][0] == "online")
        # The counters follow the batch's report back from the child process, after the commit.
        assert wait_until(lambda: one(samples(scrape(port, tokens["hq"])[1]),
                                      "forecourt_ingest_messages_total", outcome="dead_letter") == 2)
        # $SYS comes every sys_interval (10 s on a default Mosquitto): wait for a round after we connected.
        assert wait_until(lambda: samples(scrape(port, tokens["hq"])[1]).get(("forecourt_broker_clients_connected", ()), 0) >= 3, 25)
        status, text = scrape(port, tokens["hq"])
    finally:
        for client in (station, other):
            client.disconnect()
            client.loop_stop()
    assert status == 200
    found = samples(text)

    # Ingest counters against the tables they filled.
    (events,), (dead,), (duplicates,) = (rows(db_path, sql)[0] for sql in (
        "SELECT count(*) FROM events", "SELECT count(*) FROM dead_letters", "SELECT sum(duplicates) FROM stations"))
    assert (events, dead, duplicates) == (5, 2, 1)
    assert one(found, "forecourt_ingest_messages_total", outcome="stored") == events
    assert one(found, "forecourt_ingest_messages_total", outcome="duplicate") == duplicates
    assert one(found, "forecourt_ingest_messages_total", outcome="dead_letter") == dead
    assert one(found, "forecourt_ingest_messages_total", outcome="health") == 1
    assert one(found, "forecourt_ingest_messages_total", outcome="status") >= 1
    by_family = Counter(reason_family(r) for (r,) in rows(db_path, "SELECT reason FROM dead_letters"))
    assert by_family == {"json": 1, "schema": 1}
    for family in FAMILIES:
        assert one(found, "forecourt_ingest_dead_letters_total", reason=family) == by_family.get(family, 0)
    assert one(found, "forecourt_ingest_delay_seconds_count") == events
    delays = [datetime.fromisoformat(r.replace("Z", "+00:00")) - datetime.fromisoformat(t.replace("Z", "+00:00"))
              for t, r in rows(db_path, "SELECT ts, received_at FROM events")]
    assert one(found, "forecourt_ingest_delay_seconds_sum") == pytest.approx(
        sum(d.total_seconds() for d in delays), abs=0.01)
    assert one(found, "forecourt_ingest_delay_seconds_bucket", le="60.0") == events  # all within 30 s + transit
    assert one(found, "forecourt_ingest_batch_seconds_count") >= 1
    assert one(found, "forecourt_ingest_commit_seconds_count") == one(found, "forecourt_ingest_batch_seconds_count")

    # Table-derived gauges, read at scrape time.
    for state, n in Counter(s for (s,) in rows(db_path, "SELECT status FROM stations")).items():
        assert one(found, "forecourt_stations", status=state) == n
    assert one(found, "forecourt_stations", status="online") == 1
    for sid, name, region, last_seen in rows(db_path, "SELECT id, name, region, last_seen FROM stations"):
        assert one(found, "forecourt_station_info", station=sid, name=name, region=region) == 1
        assert one(found, "forecourt_station_last_seen_timestamp_seconds", station=sid) == pytest.approx(
            datetime.fromisoformat(last_seen.replace("Z", "+00:00")).timestamp())
    assert one(found, "forecourt_station_outbox_depth", station="a") == 7
    assert ("forecourt_station_outbox_depth", (("station", "b"),)) not in found  # b sent no health
    assert one(found, "forecourt_seq_gaps") == len(rows(db_path, "SELECT * FROM seq_gaps")) == 1
    assert one(found, "forecourt_seq_gap_events") == 1
    assert one(found, "forecourt_rollup_dirty_station_hours") == len(rows(db_path, "SELECT * FROM dirty"))
    assert one(found, "forecourt_rollup_poison_station_hours") == 0
    for rule in Rule:
        assert one(found, "forecourt_alerts", rule=str(rule), state="open") == 0
    assert [dict(labels)["version"] for n, labels in found if n == "forecourt_build_info"] == [__version__]

    # The broker's own figures: the collector and both stations were connected at the last $SYS round.
    assert one(found, "forecourt_broker_clients_connected") >= 3
    assert one(found, "forecourt_broker_uptime_seconds") > 0
    assert any(n == "forecourt_broker_info" for n, _ in found)
    assert not service.broker_sys.refused


def test_metrics_need_an_hq_token(collector):
    _service, port, tokens = collector
    assert scrape(port, None)[0] == 401
    assert scrape(port, "not-a-token")[0] == 401
    status, body = scrape(port, tokens["region"])
    assert status == 403 and "hq token" in body
    status, body = scrape(port, tokens["hq"])
    assert status == 200 and "forecourt_stations" in body


def test_every_series_the_dashboard_and_the_docs_name_exists(tmp_path):
    """docs/observability cannot go stale: each forecourt_ series it names is one the collector exposes."""
    import re
    from pathlib import Path

    from prometheus_client import generate_latest

    from cloud.broker_sys import FIGURES
    from cloud.prometheus import CollectorMetrics
    from cloud.store import writing

    db = open_db(tmp_path / "c.db")
    with writing(db):
        db.execute("""INSERT INTO stations (id, name, region, last_seen, health)
                      VALUES ('a', 'A', 'x', '2026-12-03T09:00:00.000Z', '{"outbox_depth": 3}')""")
    db.close()
    sys_figures = BrokerSys()
    for suffix in FIGURES:
        sys_figures.update(f"$SYS/broker/{suffix}", b"1")
    sys_figures.update("$SYS/broker/version", b"mosquitto version 2.0.11")
    metrics = CollectorMetrics(tmp_path / "c.db", broker=sys_figures)
    metrics.ingest.delay_seconds.observe(1.0)
    exposed = {s.name for f in text_string_to_metric_families(generate_latest(metrics.registry).decode()) for s in f.samples}
    docs = Path(__file__).resolve().parents[1] / "docs" / "observability"
    named = set(re.findall(r"\bforecourt_(?!edge_)[a-z_]+[a-z]", (docs / "grafana-forecourt.json").read_text()))
    named |= {n for n in re.findall(r"`(forecourt_(?!edge_)[a-z_]+[a-z])", (docs / "README.md").read_text())
              if not n.endswith("_")}
    suffixes = ("", "_total", "_bucket", "_count", "_sum", "_info")
    missing = {n for n in named if not any(n + s in exposed for s in suffixes)}
    assert missing == set()
