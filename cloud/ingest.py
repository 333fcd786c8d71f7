"""Storing a batch of received MQTT messages in one transaction. No MQTT here: the subscriber
(cloud/subscriber.py) hands batches in and acknowledges them only after :meth:`Ingestor.store` returns.

Every message ends up exactly once as an event, a status change, a health sample, a counted
duplicate, or a dead letter with its reason: bad input never raises out of here. The report says, per
station, what the batch settled (``acks``), for the storage acknowledgements sent after the commit.
"""

import json
import logging
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cloud.acks import AckBook
from cloud.database import Database
from cloud.fleet_store import record_state
from cloud.registry import auto_register, hold_stations
from cloud.rollups import RUNNING_LOOKAHEAD
from cloud.sequence import Gap, Settled, settle
from cloud.store import writing
from forecourt.errors import ProtocolError
from forecourt.protocol import ConfigState, Event, Health, Status, decode, format_ts, parse_topic, parse_ts

log = logging.getLogger("forecourt.collector.ingest")
_ID_CHUNK = 500  # ids per IN (...) lookup, well under SQLite's variable limit
_EVENT_COLUMNS = ("id", "station", "kind", "ts", "seq", "received_at", "payload")
_STATION_IN_TOPIC = re.compile(r"forecourt/v1/([a-z0-9][a-z0-9-]{0,63})/")


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes


@dataclass
class BatchReport:
    stored: int = 0
    duplicates: int = 0
    dead: int = 0
    ignored: int = 0
    statuses: int = 0
    health: int = 0
    config_states: int = 0  # stations' reports on HQ's settings (cloud/fleet_store.py)
    reasons: list[str] = field(default_factory=list)
    acks: AckBook = field(default_factory=AckBook)
    # For /metrics (cloud/ingest_metrics.py). They travel in the report so a child process's figures reach
    # the parent, which serves /metrics, with the batch they describe.
    batch_s: float = 0.0  # decode, write and commit
    commit_s: float = 0.0  # the COMMIT alone (its fsync is most of a slow batch)
    delays_s: list[float] = field(default_factory=list)  # received minus event ts, per stored event

    def add(self, other: "BatchReport") -> None:
        for name in ("stored", "duplicates", "dead", "ignored", "statuses", "health", "config_states", "commit_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.reasons += other.reasons
        self.delays_s += other.delays_s
        self.acks.merge(other.acks)


class Ingestor:
    def __init__(self, db: Database, *, dead_letter_bytes: int = 2048) -> None:
        self.db = db
        self.dead_letter_bytes = dead_letter_bytes

    def store(self, batch: Sequence[Incoming], *, now: datetime) -> BatchReport:
        """Validate and commit ``batch``; falls back to one message per transaction if the batch fails.

        A database that cannot be written (locked past the timeout, disk full, I/O error) raises
        :class:`sqlite3.OperationalError`: the caller keeps the batch unacknowledged and tries again.
        """
        started = time.perf_counter()
        decoded = [self._decode(message, now) for message in batch]
        try:
            report = self._committed(list(zip(batch, decoded, strict=True)), now)
            report.batch_s = time.perf_counter() - started
            return report
        except sqlite3.OperationalError:
            raise
        except Exception:
            log.exception("storing a batch of %d failed; storing one by one", len(batch))
        report = BatchReport()
        for message, parsed in zip(batch, decoded, strict=True):
            try:
                one = self._committed([(message, parsed)], now)
            except sqlite3.OperationalError:
                raise
            except Exception as err:  # one message the schema cannot take must not hold back the others
                one = self._committed([(message, ProtocolError(f"storage error: {err}"))], now)
            report.add(one)
        report.batch_s = time.perf_counter() - started
        return report

    def _committed(self, items: list[tuple[Incoming, object]], now: datetime) -> BatchReport:
        with writing(self.db):
            report = self._write(items, now)
            committing = time.perf_counter()
        report.commit_s = time.perf_counter() - committing
        return report

    def _decode(self, message: Incoming, now: datetime) -> object:
        try:
            if message.topic.endswith("/config") and parse_topic(message.topic).channel == "config":
                return None  # our own cloud -> edge channel; not station data
            return decode(message.topic, message.payload, now=now)
        except ProtocolError as err:
            return err
        except Exception as err:  # never crash on input, whatever the decoder trips on
            return ProtocolError(f"undecodable: {type(err).__name__}: {err}")

    def _write(self, items: list[tuple[Incoming, object]], now: datetime) -> BatchReport:
        """The batch's rows, then its stations' bookkeeping.

        Several collectors may write at once (PostgreSQL). The events go in first, without holding any
        station; then the batch holds its stations' rows, taken in id order, for the short rest of the
        transaction, and every write to a station row, its seq gaps and its rollup marks happens there. So
        two batches for one station serialise only on that last part and never wait on each other in a
        cycle, and a rollup (which holds the station while it reads) never misses a mark."""
        report = BatchReport()
        received = format_ts(now)
        events = [(m, p) for m, p in items if isinstance(p, Event)]
        stations = sorted({p.station for _, p in events} | {
            parse_topic(m.topic).station for m, p in items if isinstance(p, Status | Health)
        })
        inserted, copies = self._events(events, received, report)  # type: ignore[arg-type]
        for message, parsed in items:
            if isinstance(parsed, ProtocolError):
                self._dead_letter(message, str(parsed), received)
                report.dead += 1
                report.reasons.append(str(parsed))
                report.acks.dead_letter(message.topic, message.payload, str(parsed))
        last_seqs = hold_stations(self.db, stations)  # held until the commit
        if unknown := [s for s in stations if s not in last_seqs]:
            auto_register(self.db, unknown, now=now)
            last_seqs |= hold_stations(self.db, unknown)
        for message, parsed in items:
            if parsed is None:
                report.ignored += 1
            elif isinstance(parsed, Status):
                self._status(parse_topic(message.topic).station, parsed, received)
                report.statuses += 1
            elif isinstance(parsed, Health):
                if self._health(parsed, received):
                    report.health += 1
                else:
                    report.duplicates += 1
                report.acks.health(parsed.station, parsed.id)
            elif isinstance(parsed, ConfigState):
                record_state(self.db, parse_topic(message.topic).station, parsed, received)
                report.config_states += 1
        self._bookkeeping(inserted, copies, received, last_seqs)
        return report

    def _events(
        self, events: list[tuple[Incoming, Event]], received: str, report: BatchReport
    ) -> tuple[dict[str, list[Event]], Counter]:
        """Store the batch's new events; returns them per station, and per station the copies of held ones."""
        conn = self.db
        # Known ids are looked up in bulk and the new rows inserted at once (executemany; COPY on
        # PostgreSQL): a statement per event cost a third of the collector's throughput on SQLite, and
        # more than half on PostgreSQL, in round trips.
        ids = [event.id for _, event in events]
        known: set[str] = set()
        for start in range(0, len(ids), _ID_CHUNK):
            chunk = ids[start : start + _ID_CHUNK]
            known.update(r[0] for r in conn.execute(f"SELECT id FROM events WHERE id IN ({','.join('?' * len(chunk))})", chunk))
        rows, inserted, duplicates = [], {}, Counter()
        arrived = parse_ts(received).timestamp()
        for message, event in events:
            report.acks.stored(event.station, event.seq)  # held once this batch commits, new or not
            if event.id in known:
                duplicates[event.station] += 1
                continue
            known.add(event.id)
            # The payload as sent (validated UTF-8 JSON): fields a newer station adds are kept, not dropped.
            rows.append((event.id, event.station, event.kind, event.ts, event.seq, received, bytes(message.payload).decode()))
            inserted.setdefault(event.station, []).append(event)
            report.delays_s.append(arrived - parse_ts(event.ts).timestamp())
        conn.insert_rows("events", _EVENT_COLUMNS, rows)
        report.stored += len(rows)
        report.duplicates += sum(duplicates.values())
        return inserted, duplicates

    def _bookkeeping(
        self, inserted: dict[str, list[Event]], copies: Counter, received: str, last_seqs: dict[str, int | None],
    ) -> None:
        """Each station's counters, high mark, seq gaps and rollup marks: once per station per batch."""
        conn = self.db
        conn.executemany("UPDATE stations SET duplicates = duplicates + ? WHERE id = ?",
                         sorted((n, s) for s, n in copies.items()))
        marks = sorted({(station, e.ts[:13]) for station, new in inserted.items() for e in new})
        conn.executemany("INSERT INTO dirty (station, hour) VALUES (?, ?) ON CONFLICT DO NOTHING", marks)
        settled = {s: self._settle(s, [e.seq for e in new], last_seqs[s], received) for s, new in sorted(inserted.items())}
        conn.executemany("DELETE FROM seq_gaps WHERE station = ? AND first_seq = ?",
                         [(s, first) for s, done in settled.items() for first in done.removed])
        conn.executemany("INSERT INTO seq_gaps (station, first_seq, last_seq, detected_at) VALUES (?,?,?,?)",
                         [(s, *gap) for s, done in settled.items() for gap in done.added])
        conn.executemany(
            "UPDATE stations SET last_seq = ?, last_seen = greatest(coalesce(last_seen, ''), ?) WHERE id = ?",
            [(done.last_seq, received, s) for s, done in settled.items()],
        )

    def _settle(self, station: str, seqs: list[int], last: int | None, received: str) -> Settled:
        held: list[Gap] = []
        if last is not None and min(seqs) <= last:  # some fill a gap: read the gaps they could fill
            held = self.db.execute(
                "SELECT first_seq, last_seq, detected_at FROM seq_gaps WHERE station = ? AND last_seq >= ?",
                (station, min(seqs)),
            ).fetchall()
        return settle(last, seqs, [tuple(g) for g in held], received)

    def _status(self, station: str, status: Status, received: str) -> None:
        conn = self.db
        (current,) = conn.execute("SELECT status FROM stations WHERE id = ?", (station,)).fetchone()
        if current != status.state:
            conn.execute("INSERT INTO status_log (station, at, state) VALUES (?, ?, ?)", (station, received, status.state))
            conn.execute("UPDATE stations SET status = ?, status_at = ? WHERE id = ?", (status.state, received, station))
            conn.execute("INSERT INTO dirty (station, hour) VALUES (?, ?) ON CONFLICT DO NOTHING", (station, received[:13]))
        if status.state == "online":
            conn.execute(
                "UPDATE stations SET version = ?, config_hash = ?, started_at = ? WHERE id = ?",
                (status.version, status.config_hash, status.started_at, station),
            )
        conn.execute("UPDATE stations SET last_seen = greatest(coalesce(last_seen, ''), ?) WHERE id = ?", (received, station))

    def _health(self, health: Health, received: str) -> bool:
        """Store a sample; False if HQ already held it (a resend), which counts with the station's duplicates."""
        conn = self.db
        payload = health.model_dump_json()
        cursor = conn.execute(
            "INSERT INTO health (id, station, ts, camera_fps, payload) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (health.id, health.station, health.ts, health.camera_fps, payload),
        )
        if not cursor.rowcount:
            conn.execute("UPDATE stations SET duplicates = duplicates + 1 WHERE id = ?", (health.station,))
            return False
        conn.execute(
            """UPDATE stations SET health = ?, health_at = ?, last_seen = greatest(coalesce(last_seen, ''), ?)
               WHERE id = ? AND coalesce(health_at, '') <= ?""",
            (payload, health.ts, received, health.station, health.ts),
        )
        # The sample proves the edge ran since ts - uptime_s: the hour before may gain covered time too.
        sampled = parse_ts(health.ts)
        since = format_ts(sampled - timedelta(seconds=min(health.uptime_s, RUNNING_LOOKAHEAD.total_seconds())))
        conn.executemany(
            "INSERT INTO dirty (station, hour) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(health.station, hour) for hour in {since[:13], health.ts[:13]}],
        )
        return True

    def _dead_letter(self, message: Incoming, reason: str, received: str) -> None:
        found = _STATION_IN_TOPIC.match(message.topic or "")
        payload = message.payload if isinstance(message.payload, bytes | bytearray) else str(message.payload).encode()
        self.db.execute(
            "INSERT INTO dead_letters (received_at, topic, station, reason, size, payload) VALUES (?,?,?,?,?,?)",
            (received, message.topic[:1024], found.group(1) if found else None, reason[:1000], len(payload),
             bytes(payload[: self.dead_letter_bytes])),
        )


def event_dict(row: tuple[str, str]) -> dict[str, object]:
    """An ``events`` row's payload JSON with the time the collector received it."""
    payload, received = row
    return {**json.loads(payload), "received_at": received}
