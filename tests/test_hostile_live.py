"""Issue 15, live: over 10,000 valid and hostile messages through a real Mosquitto into ``forecourt collector``
(a real process, with its ingest child), and every one gets exactly the verdict tests/hostile_corpus.py says.

Six stations publish at QoS 1, each under its own credentials, round-robin: events of every kind, exact
re-sends, health samples and statuses, and the hostile families (malformed, non-UTF-8, nested, int64 and float
overflow, lone surrogates, duplicate keys, wrong station or kind, unknown version, timestamps out of range or
out of the window, ...). What the broker refuses (topics outside a station's role, payloads over 16 KiB) is
counted from its PUBACK reason codes, not as the collector's; a packet over max_packet_size, which makes the
broker close the connection, is tried on a station connection of its own. The books must balance exactly:

    sent = stored + duplicates + dead letters + health samples + status changes + refused by the broker

and per message: each event stored once with its payload as sent, each dead letter with its reason and
topic, each seq answered in the station's storage acknowledgements. Then the collector is still alive (it
stores a fresh event, its API answers), the rollups leave no hour over unrolled and none poisoned, no
hostile timestamp reached storage, and the hostile API walk (tests/api_walk.py) over this database finds
no 500. Every wait is bounded and stops as soon as its condition holds; nothing asserts a duration.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt

from cloud.auth import add_user
from cloud.config import CollectorConfig
from cloud.rollups import roll_up
from cloud.store import open_db, utc_now
from forecourt import children
from forecourt.broker import Mosquitto, free_port, wait_for_port
from forecourt.errors import ProtocolError
from forecourt.protocol import MAX_PAYLOAD_BYTES, decode, decode_ack, format_ts
from tests import hostile_corpus as hc
from tests.api_walk import answers, request
from tests.cloud_kit import count
from tests.mqtt import Recorder, attempt
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
STATIONS = [f"hs-{i}" for i in range(6)]
PER_STATION = 1_700  # plus 4 statuses each: 10,224 messages
BIG = "hs-big"  # a station that sends only payloads over 16 KiB, each on a connection of its own (it is closed)


def test_the_corpus_is_deterministic_and_its_verdicts_are_the_codecs():
    """Offline and fast: what the live test expects of the collector is what ``decode`` says, family by family."""
    now = utc_now()
    sent = hc.corpus(STATIONS[:2], now=now, per_station=400)
    assert sent == hc.corpus(STATIONS[:2], now=now, per_station=400)
    families = {s.family for s in sent}
    assert families >= set(hc.DEAD_FAMILIES) | set(hc.BROKER_FAMILIES) | set(hc.VALID_FAMILIES)
    for s in sent:
        if s.verdict == hc.BROKER:
            continue
        try:
            decode(s.topic, s.payload, now=now)
        except ProtocolError as err:
            assert s.verdict == hc.DEAD and s.expect in str(err), (s.family, str(err))
        else:
            assert s.verdict != hc.DEAD, (s.family, s.payload[:200])
    assert max(len(s.payload) for s in sent) == MAX_PAYLOAD_BYTES
    sizes = [len(s.payload) - MAX_PAYLOAD_BYTES for s in hc.oversize(BIG, now=now)]
    assert sizes == [1, 600, 2048, 20_000]  # max_packet_size is the payload limit + 1,024


class Fleet:
    """One MQTT v5 connection per station, subscribed to its own ack topic; PUBACK reasons kept per mid."""

    def __init__(self, broker: Mosquitto, stations: list[str]) -> None:
        self._lock = threading.Lock()
        self.reasons: dict[tuple[str, int], str] = {}
        self.recorders = {st: Recorder(broker, f"forecourt/v1/{st}/ack", username=st) for st in stations}
        for station, recorder in self.recorders.items():
            assert recorder.granted, station
            recorder.client.on_publish = self._puback(station)

    def _puback(self, station: str):
        def on_publish(_client, _userdata, mid, reason, _props) -> None:
            with self._lock:
                self.reasons[(station, mid)] = str(reason)

        return on_publish

    def publish(self, sent: hc.Sent) -> tuple[str, int]:
        info = self.recorders[sent.station].client.publish(sent.topic, sent.payload, qos=1)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, (sent.family, info.rc)
        return sent.station, info.mid

    def answered(self, mids: list[tuple[str, int]]) -> bool:
        with self._lock:
            return all(mid in self.reasons for mid in mids)

    def acks(self) -> dict[str, dict[str, set]]:
        """What the storage acknowledgements told each station: seqs stored, seqs rejected, health ids."""
        told: dict[str, dict[str, set]] = {}
        for station, recorder in self.recorders.items():
            mine = told[station] = {"stored": set(), "rejected": set(), "health": set()}
            for topic, payload, _ in recorder.snapshot():
                ack = decode_ack(topic, payload, station=station)
                mine["stored"].update(ack.stored_seqs())
                mine["rejected"].update(r.seq for r in ack.rejected)
                mine["health"].update(ack.health)
        return told

    def close(self) -> None:
        for recorder in self.recorders.values():
            recorder.close()


def _collector(tmp_path: Path, broker: Mosquitto, db_path: Path, port: int) -> subprocess.Popen:
    """``forecourt collector`` as shipped (ingest in a child process), its rollup job out of the way: the test runs
    the rollups itself, to see their result. Returns once its API listens, which it does once subscribed."""
    config = tmp_path / "collector.toml"
    config.write_text(
        f'[mqtt]\nurl = "{broker.url}"\nusername = "collector"\npassword = "{broker.users["collector"]}"\n'
        f'[database]\npath = "{db_path}"\n[http]\nlisten = "127.0.0.1:{port}"\n[ingest]\nrollup_interval_s = 3600\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "forecourt", "collector", "--config", str(config)], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "FORECOURT_LOG_LEVEL": "INFO"}, stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "collector.log", "ab"),  # noqa: SIM115 - lives with the process
        start_new_session=True, preexec_fn=children.die_with_parent(),
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
    except Exception:
        _stop(process)
        raise AssertionError((tmp_path / "collector.log").read_text(errors="replace")[-3000:]) from None
    return process


def _tally(db_path: Path) -> dict[str, int]:
    return {
        hc.STORED: count(db_path, "SELECT count(*) FROM events"),
        "duplicates": count(db_path, "SELECT coalesce(sum(duplicates), 0) FROM stations"),
        hc.DEAD: count(db_path, "SELECT count(*) FROM dead_letters"),
        hc.HEALTH: count(db_path, "SELECT count(*) FROM health"),
        hc.STATUS: count(db_path, "SELECT count(*) FROM status_log"),
    }


def _expected(sent: list[hc.Sent]) -> dict[str, int]:
    verdicts = Counter(s.verdict for s in sent)
    return {hc.STORED: verdicts[hc.STORED], "duplicates": verdicts[hc.DUPLICATE] + verdicts[hc.HEALTH_DUPLICATE],
            hc.DEAD: verdicts[hc.DEAD], hc.HEALTH: verdicts[hc.HEALTH], hc.STATUS: verdicts[hc.STATUS]}


def _rows(db, sql: str) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql)]


def test_10000_mixed_messages_each_get_their_verdict_and_nothing_else_breaks(tmp_path):
    started = time.monotonic()
    users = {"collector": "pw-collector", BIG: "pw-big"} | {s: f"pw-{s}" for s in STATIONS}
    db_path, port = tmp_path / "collector.db", free_port()
    db = open_db(db_path)
    token = add_user(db, "hq-walker", "hq")
    db.close()
    now = utc_now()
    sent = hc.corpus(STATIONS, now=now, per_station=PER_STATION)
    assert len(sent) >= 10_000
    with Mosquitto(tmp_path / "broker", users=users, die_with_parent=True) as broker:
        collector, fleet = _collector(tmp_path, broker, db_path, port), None
        try:
            fleet = Fleet(broker, STATIONS)
            phases = {"start": time.monotonic() - started}
            mids, half = [], len(sent) // 2
            for sent_one in sent[:half]:
                mids.append(fleet.publish(sent_one))
            # Oversize payloads, mid-stream, on a connection of their own: each costs that connection and no other.
            oversize = hc.oversize(BIG, now=now)
            closed = [attempt(broker, BIG, s.topic, s.payload) for s in oversize]
            for sent_one in sent[half:]:
                mids.append(fleet.publish(sent_one))
            assert wait_until(lambda: fleet.answered(mids), timeout=60), "PUBACKs missing"
            phases["publish"] = time.monotonic() - started
            expected = _expected(sent)
            wait_until(lambda: _tally(db_path) == expected, timeout=120, poll=0.1)
            phases["drain"] = time.monotonic() - started
            _check_books(db_path, sent + oversize, [fleet.reasons[m] for m in mids] + closed, expected)
            # (at least: paho could reconnect and resend before attempt() stops it)
            assert broker.log.count(f"Client {BIG} disconnected due to oversize packet") >= 2
            wanted = _wanted_acks(sent)
            wait_until(lambda: fleet.acks() == wanted, timeout=30, poll=0.1)
            assert fleet.acks() == wanted, "the storage acknowledgements do not match the verdicts"
            _check_alive(fleet, db_path, port, token)
            phases["alive"] = time.monotonic() - started
            _check_rollups(db_path, now)
            phases["rollups"] = time.monotonic() - started
            _check_api_walk(port, token)
            phases["api walk"] = time.monotonic() - started
        finally:
            if fleet is not None:
                fleet.close()
            stopped = _stop(collector)
    log = (tmp_path / "collector.log").read_text(errors="replace")
    assert stopped == 0, log[-3000:]
    # Not one warning: no batch fell back to one by one, none failed, the connection never dropped.
    assert [line for line in log.splitlines() if not line.startswith("INFO ")] == []
    print("phases (s since start): " + ", ".join(f"{name} {t:.1f}" for name, t in phases.items()))


def _check_books(db_path: Path, sent: list[hc.Sent], pubacks: list[str], expected: dict) -> None:
    """Every message's verdict, where it was given: the broker's PUBACK (or closing), then the collector's tables."""
    tally = _tally(db_path)
    assert tally == expected
    wrong = [(s.family, s.topic, r) for s, r in zip(sent, pubacks, strict=True)
             if not (r.startswith(s.expect) if s.verdict == hc.BROKER else r == "Success")]
    assert wrong == [], wrong[:20]
    refused = sum(s.verdict == hc.BROKER for s in sent)
    _report(sent, tally, refused)
    assert sum(tally.values()) + refused == len(sent)  # every message sent has exactly one verdict

    db = open_db(db_path)
    stored = {s.key: s for s in sent if s.verdict == hc.STORED}
    rows = _rows(db, "SELECT id, station, kind, seq, payload FROM events")
    assert sorted(rows) == sorted((s.key, s.station, s.topic.rsplit("/", 1)[1], s.seq, s.payload.decode())
                                  for s in stored.values())  # each once, its payload as sent
    assert {r[0] for r in db.execute("SELECT id FROM health")} == {s.key for s in sent if s.verdict == hc.HEALTH}
    per_station = Counter(s.station for s in sent if s.verdict in (hc.DUPLICATE, hc.HEALTH_DUPLICATE))
    assert dict(_rows(db, "SELECT id, duplicates FROM stations WHERE duplicates > 0")) == per_station
    last = {st: max(s.seq for s in stored.values() if s.station == st) for st in STATIONS}
    assert dict(_rows(db, "SELECT id, last_seq FROM stations")) == last
    assert _rows(db, "SELECT * FROM seq_gaps") == []
    states = defaultdict(list)
    for station, state in db.execute("SELECT station, state FROM status_log ORDER BY id"):
        states[station].append(state)
    assert states == {st: ["online", "offline", "online", "offline"] for st in STATIONS}

    # Dead letters, matched to what was sent by topic and kept bytes; each reason says what is wrong.
    cap = CollectorConfig().ingest.dead_letter_bytes
    dead = [s for s in sent if s.verdict == hc.DEAD]
    family = {(s.topic, s.payload[:cap]): s for s in dead}
    assert len(family) == len({(s.topic, s.payload[:cap], s.family) for s in dead}), "two families look alike"
    letters = _rows(db, "SELECT topic, payload, reason, size, station FROM dead_letters")
    assert Counter((t, bytes(p)) for t, p, *_ in letters) == Counter((s.topic, s.payload[:cap]) for s in dead)
    unexplained = [(family[(t, bytes(p))].family, reason) for t, p, reason, size, station in letters
                   if family[(t, bytes(p))].expect not in reason or station != family[(t, bytes(p))].station
                   or size != len(family[(t, bytes(p))].payload)]
    assert unexplained == [], unexplained[:20]
    db.close()


def _report(sent: list[hc.Sent], tally: dict, refused: int) -> None:
    verdicts = Counter(s.verdict for s in sent).most_common()
    print(f"\nsent {len(sent):,}: " + ", ".join(f"{v} {n:,}" for v, n in verdicts))
    print("collector: " + ", ".join(f"{name} {n:,}" for name, n in tally.items()) + f"; refused by the broker {refused:,}")
    print("stored by family: " + ", ".join(f"{f} {n:,}" for f, n in sorted(
        Counter(s.family for s in sent if s.verdict == hc.STORED).items())))
    by_family = Counter((s.verdict, s.family) for s in sent if s.verdict in (hc.DEAD, hc.BROKER))
    for (verdict, family), n in sorted(by_family.items()):
        print(f"  {verdict:22} {n:4}  {family}")


def _wanted_acks(sent: list[hc.Sent]) -> dict[str, dict[str, set]]:
    """What the stations must have been told: every stored seq, every claimed seq of a dead letter, every
    health id HQ holds or refused by one it can read."""
    wanted = {st: {"stored": set(), "rejected": set(), "health": set()} for st in STATIONS}
    for s in sent:
        if s.verdict == hc.STORED:
            wanted[s.station]["stored"].add(s.seq)
        elif s.verdict == hc.DEAD and s.seq is not None:
            wanted[s.station]["rejected"].add(s.seq)
        elif s.verdict == hc.HEALTH or s.claims_health:
            wanted[s.station]["health"].add(s.key or s.claims_health)
    return wanted


def _check_alive(fleet: Fleet, db_path: Path, port: int, token: str) -> None:
    """After all that, a fresh valid event is stored and the API answers with the figures the database holds."""
    station = STATIONS[0]
    seq = count(db_path, "SELECT last_seq FROM stations WHERE id = ?", (station,)) + 1
    fresh = hc.dumps({"v": 1, "id": "fresh-after-the-storm", "seq": seq, "station": station, "ts": format_ts(utc_now()),
                      "kind": "rating", "kiosk": "k1", "location": None, "score": 5, "scale": 5, "reason": None})
    info = fleet.recorders[station].client.publish(f"forecourt/v1/{station}/event/rating", fresh, qos=1)
    info.wait_for_publish(10)
    assert wait_until(lambda: count(db_path, "SELECT count(*) FROM events WHERE id = 'fresh-after-the-storm'") == 1)
    status, body = request(port, "GET", f"/api/v1/stations/{station}", token)
    assert status == 200, body[:300]
    detail = json.loads(body)
    assert detail["last_seq"] == seq and detail["seq_gaps"] == []
    assert detail["duplicates"] == count(db_path, "SELECT duplicates FROM stations WHERE id = ?", (station,))


def _check_rollups(db_path: Path, now) -> None:
    db = open_db(db_path)
    at = utc_now()
    run = roll_up(db, at, CollectorConfig().goals)
    assert run.poisoned == 0 and _rows(db, "SELECT * FROM poison_hours") == []
    current = format_ts(at)[:13]
    # Only hours not over yet stay marked (their online time still grows): today's statuses and the fresh event.
    assert [h for (h,) in db.execute("SELECT DISTINCT hour FROM dirty") if h < current] == []
    kinds = dict(_rows(db, "SELECT kind, count(*) FROM events GROUP BY kind"))
    sums = dict(zip(("ratings", "cleanings", "visits"), db.execute(
        "SELECT sum(ratings_n), sum(cleanings + flagged), sum(visits) FROM rollups WHERE period = 'hour'").fetchone(),
        strict=True))
    assert sums == {"ratings": kinds["rating"], "cleanings": kinds["cleaning"], "visits": kinds["visit"]}
    assert db.execute("SELECT sum(ratings_n), sum(visits) FROM rollups WHERE period = 'day'").fetchone() == (
        kinds["rating"], kinds["visit"])
    # No hostile timestamp reached storage: everything stored lies inside the window around the clock.
    window = (format_ts(now - timedelta(days=400)), format_ts(at + timedelta(hours=24)))
    for table in ("events", "health"):
        assert db.execute(f"SELECT count(*) FROM {table} WHERE ts < ? OR ts > ?", window).fetchone() == (0,), table
    low, high = db.execute("SELECT min(bucket), max(bucket) FROM rollups WHERE period = 'hour'").fetchone()
    assert window[0][:13] <= low and high <= window[1][:13]
    print(f"rollups: {run.computed} station-hours computed, {run.poisoned} poisoned; buckets {low} .. {high}")
    db.close()


def _check_api_walk(port: int, token: str) -> None:
    status, schema = request(port, "GET", "/openapi.json", token)
    assert status == 200
    verdicts, errors = Counter(), []
    for where, _, status, content in answers(port, json.loads(schema), token, station=STATIONS[0]):
        verdicts[status] += 1
        if status >= 500:
            errors.append(f"{status} {where}: {content[:200]!r}")
    print(f"API walk: {sum(verdicts.values())} requests, verdicts {dict(sorted(verdicts.items()))}")
    assert errors == [], "\n".join(errors[:30])


def _stop(process: subprocess.Popen) -> int | None:
    """SIGTERM and the collector's exit status (it stops cleanly); SIGKILL for the group if it does not."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        return None
