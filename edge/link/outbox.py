"""The durable outbox: every event is committed to SQLite, with its ``seq``, before anyone tries to send it.

Durability: WAL with ``synchronous=FULL``. In WAL mode ``NORMAL`` survives a crash of the process but a
power cut may roll back the last commits (the WAL is only fsynced at checkpoints); ``FULL`` fsyncs the
WAL on every commit, so an event that :meth:`Outbox.emit` returned from survives pulling the plug.
Events are a few per minute, so the ~0.3 ms fsync per event costs nothing that matters; deletions are
batched (one per storage acknowledgement), so draining a backlog does not pay one fsync per message.

Until when a row is kept: until HQ says it stored it (a storage acknowledgement on the station's ack
topic, :meth:`Outbox.acknowledge`), not until the broker's PUBACK. A broker that restarts before its
autosave, or one with no subscriber at that moment, PUBACKs messages that never reach HQ; a row kept
until HQ confirms it is sent again instead. ``keep_until = "puback"`` (:meth:`Outbox.delivered`)
is the old behaviour, for brokers whose ACL does not yet let stations read their ack topic.

Ordering: rows are sent in ``n`` order (AUTOINCREMENT, so numbers are never reused even when the table
empties and the publisher's "sent up to" cursor stays valid). ``seq`` comes from a counter in ``meta``
bumped in the same transaction as the insert: a crash can never give two events one ``seq`` or skip one.

Bounded size (``max_mb``): stored bytes are counted. When a new row does not fit, health samples are
thinned first (oldest first; a health sample that still does not fit is not stored). An event that
does not fit even then is not kept and is not given a ``seq``; the outbox counts it (``dropped``, which
health reports) and raises one ``outbox_full`` alert, stored beyond the budget so the alert itself is
never lost. The alert is cleared, with the total it could not keep, once delivery frees a tenth of it.
"""

import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlite_utils import Database

from edge.events import Draft
from edge.link.outbox_schema import migrations
from forecourt.errors import ConfigError, ProtocolError
from forecourt.protocol import (
    AlertBody,
    Cleaning,
    Event,
    EventBody,
    Health,
    Rejected,
    StationAlert,
    StorageAck,
    describe,
    encode,
    event_from,
    format_epoch,
    new_id,
)

log = logging.getLogger(__name__)

ROW_OVERHEAD = 100  # bytes per row beyond topic + payload: ids, numbers, b-tree cells (rough, on purpose)
SIZE = f"length(topic) + length(payload) + {ROW_OVERHEAD}"  # a row's counted bytes, in SQL
CLEAR_BELOW = 0.9  # the outbox_full alert clears when usage falls under this share of the budget

@dataclass(frozen=True)
class Acknowledged:
    """What one storage acknowledgement removed from the outbox."""

    rows: list[int]  # outbox row numbers (``n``) gone
    events: int
    health: int
    rejected: list[Rejected]  # of those events, the ones HQ refused for good (logged by the caller)


@dataclass(frozen=True)
class Pending:
    n: int
    topic: str
    payload: bytes


@dataclass(frozen=True)
class OutboxStats:
    depth: int  # rows HQ has not confirmed yet, health samples included
    events: int  # of which events (with a seq)
    oldest_stored_at: float | None  # clock time of the oldest undelivered row
    stored_bytes: int
    budget_bytes: int
    last_seq: int
    dropped: int  # events the full outbox could not keep, since the station was installed
    health_thinned: int  # health samples removed or refused for space, since start
    rejected: int = 0  # events HQ acknowledged as refused for good (dead letters), since the station was installed


class Outbox:
    """Implements :class:`edge.events.EventSink`; thread-safe (sensor callbacks, vision, publisher)."""

    def __init__(
        self,
        path: str | Path,
        *,
        station: str,
        max_mb: float = 200.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.station = station
        self.budget_bytes = int(max_mb * 1_000_000)
        self.clock = clock
        self.health_thinned = 0
        self._lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self.db = Database(conn)
            migrations.apply(self.db)
        except (OSError, sqlite3.Error) as err:
            raise ConfigError(f"outbox.path: cannot open {path}: {err}") from None
        self._conn = conn
        self.stored_bytes = self._scalar(f"SELECT coalesce(sum({SIZE}), 0) FROM outbox")

    # -- writing ---------------------------------------------------------------------------------------

    def emit(self, draft: Draft) -> None:
        """Commit one event; returns once it is durable. Never waits on the network.

        Raises :class:`ProtocolError` (a ``ValueError``) when the draft is not a valid protocol event, so
        a bug shows at its source instead of as a poison message at HQ; no ``seq`` is used up by it.
        """
        self.store(draft)

    def store(self, draft: Draft) -> Event | None:
        """:meth:`emit` that also returns the stored event (None when the full outbox could not keep it)."""
        if not isinstance(draft.body, EventBody):
            raise ProtocolError(f"a draft carries an event body, not {type(draft.body).__name__}")
        if not isinstance(draft.at, int | float) or not math.isfinite(draft.at) or draft.at < 0:
            raise ProtocolError(f"{draft.kind} draft: at={draft.at!r} is not a time in epoch seconds")
        with self._lock:
            seq = self._meta("last_seq") + 1
            event = _build(draft, {"id": new_id(), "seq": seq, "station": self.station, "ts": format_epoch(draft.at)})
            topic, payload = encode(event)
            size = len(topic) + len(payload) + ROW_OVERHEAD
            if not self._make_room(size):
                self._drop(draft)
                return None
            with self._transaction():
                self._insert_row(seq, draft.kind, event.id, topic, payload)
                if isinstance(event, Cleaning) and event.flag is None:
                    self._conn.execute(
                        "INSERT OR REPLACE INTO last_check_ins (restroom, at) VALUES (?, ?)",
                        (event.restroom, draft.at),
                    )
            self.stored_bytes += size
        self._wake()
        return event

    def last_check_ins(self) -> dict[str, float]:
        """Restroom id -> time of its last counted (unflagged) check-in, kept across restarts."""
        with self._lock:
            return dict(self._conn.execute("SELECT restroom, at FROM last_check_ins").fetchall())

    def add_health(self, health: Health) -> bool:
        """Store a health sample (no ``seq``); returns False if it was thinned away for lack of space."""
        topic, payload = encode(health)
        size = len(topic) + len(payload) + ROW_OVERHEAD
        with self._lock:
            if not self._make_room(size):
                self.health_thinned += 1
                return False
            self._insert(None, "health", health.id, topic, payload, size)
        self._wake()
        return True

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One commit (one fsync) for everything inside; all or nothing after a crash."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _insert(self, seq: int | None, kind: str, event_id: str, topic: str, payload: bytes, size: int) -> None:
        with self._transaction():
            self._insert_row(seq, kind, event_id, topic, payload)
        self.stored_bytes += size

    def _insert_row(self, seq: int | None, kind: str, event_id: str, topic: str, payload: bytes) -> None:
        """Inside a transaction: the row and, for an event, its seq as the counter's new value."""
        self._conn.execute(
            "INSERT INTO outbox (seq, kind, id, topic, payload, stored_at) VALUES (?, ?, ?, ?, ?, ?)",
            (seq, kind, event_id, topic, payload, self.clock()),
        )
        if seq is not None:
            self._set_meta("last_seq", seq)

    def _make_room(self, size: int) -> bool:
        """Thin health samples, oldest first, until ``size`` more bytes fit; False if they cannot."""
        while self.stored_bytes + size > self.budget_bytes:
            rows = self._conn.execute(
                f"DELETE FROM outbox WHERE n IN (SELECT n FROM outbox WHERE kind = 'health' ORDER BY n LIMIT 64) "
                f"RETURNING {SIZE}"
            ).fetchall()
            if not rows:
                return False
            self.health_thinned += len(rows)
            self.stored_bytes -= sum(r[0] for r in rows)
        return True

    def _drop(self, draft: Draft) -> None:
        """Count an event the budget cannot hold; the first of a spell also opens the alert, atomically."""
        with self._transaction():
            dropped = self._meta("dropped") + 1
            self._set_meta("dropped", dropped)
            if not self._meta("full_open"):
                self._set_meta("full_open", dropped)  # remember the count when the alert opened
                self._alert("open", dropped, f"outbox is full ({self.budget_bytes / 1e6:.1f} MB); events are not being kept")
        log.error("outbox full (%.1f MB): could not keep a %s event (%d so far)", self.budget_bytes / 1e6, draft.kind, dropped)

    def _alert(self, state: str, value: int, message: str) -> None:
        """Inside a transaction. The outbox_full alert bypasses the budget: one row, the only way HQ learns of the loss."""
        seq = self._meta("last_seq") + 1
        now = self.clock()
        body = AlertBody(alert=StationAlert.OUTBOX_FULL, state=state, subject="outbox", message=message, value=float(value))
        event = _build(Draft(now, body), {"id": new_id(), "seq": seq, "station": self.station, "ts": format_epoch(now)})
        topic, payload = encode(event)
        self._insert_row(seq, "alert", event.id, topic, payload)
        self.stored_bytes += len(topic) + len(payload) + ROW_OVERHEAD

    # -- delivering ------------------------------------------------------------------------------------

    def pending(self, *, after: int = 0, limit: int = 100) -> list[Pending]:
        """Undelivered rows after ``n`` = ``after``, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT n, topic, payload FROM outbox WHERE n > ? ORDER BY n LIMIT ?", (after, limit)
            ).fetchall()
        return [Pending(n, topic, bytes(payload)) for n, topic, payload in rows]

    def rows(self, numbers: Iterable[int]) -> list[Pending]:
        """The rows still held among ``numbers`` (for sending again), oldest first."""
        found: list[Pending] = []
        numbers = list(numbers)
        with self._lock:
            for chunk in _chunks(numbers):
                found += [
                    Pending(n, topic, bytes(payload))
                    for n, topic, payload in self._conn.execute(
                        f"SELECT n, topic, payload FROM outbox WHERE n IN ({','.join('?' * len(chunk))})", chunk
                    )
                ]
        return sorted(found, key=lambda row: row.n)

    def acknowledge(self, ack: StorageAck) -> Acknowledged:
        """Forget what HQ confirmed it holds (or refused for good); one transaction, one fsync."""
        refused = {r.seq: r for r in ack.rejected}
        rows: list[int] = []
        events = health = 0
        rejected: list[Rejected] = []
        with self._lock, self._transaction():
            freed = 0
            for first, last in ack.stored:
                gone = self._conn.execute(
                    f"DELETE FROM outbox WHERE seq BETWEEN ? AND ? RETURNING n, {SIZE}", (first, last)
                ).fetchall()
                rows += [n for n, _ in gone]
                events += len(gone)
                freed += sum(size for _, size in gone)
            for chunk in _chunks(list(refused)):
                gone = self._conn.execute(
                    f"DELETE FROM outbox WHERE seq IN ({','.join('?' * len(chunk))}) RETURNING n, seq, {SIZE}", chunk
                ).fetchall()
                rows += [n for n, _, _ in gone]
                rejected += [refused[seq] for _, seq, _ in gone]
                freed += sum(size for _, _, size in gone)
            for chunk in _chunks(ack.health):
                gone = self._conn.execute(
                    f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(chunk))}) AND seq IS NULL RETURNING n, {SIZE}", chunk
                ).fetchall()
                rows += [n for n, _ in gone]
                health += len(gone)
                freed += sum(size for _, size in gone)
            if rejected:
                self._set_meta("rejected", self._meta("rejected") + len(rejected))
            self._freed(freed)
        return Acknowledged(rows, events + len(rejected), health, rejected)

    def delivered(self, numbers: Iterable[int]) -> int:
        """Forget rows the broker acknowledged (``keep_until = "puback"`` only); returns how many went."""
        numbers = list(numbers)
        if not numbers:
            return 0
        with self._lock, self._transaction():
            gone = freed = 0
            for chunk in _chunks(numbers):
                rows = self._conn.execute(
                    f"DELETE FROM outbox WHERE n IN ({','.join('?' * len(chunk))}) RETURNING {SIZE}", chunk
                ).fetchall()
                gone += len(rows)
                freed += sum(r[0] for r in rows)
            self._freed(freed)
        return gone

    def _freed(self, freed: int) -> None:
        """Inside a transaction: ``freed`` bytes left; clear the outbox_full alert once there is room again."""
        opened_at = self._meta("full_open")
        if opened_at and self.stored_bytes - freed < CLEAR_BELOW * self.budget_bytes:
            total = self._meta("dropped") - opened_at + 1
            self._set_meta("full_open", 0)
            self._alert("cleared", total, f"outbox has room again; {total} events could not be kept while it was full")
        self.stored_bytes -= freed

    def on_new(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (cheaply, without the lock) after each stored row: the publisher's wake-up."""
        self._listeners.append(listener)

    def _wake(self) -> None:
        for listener in self._listeners:
            listener()

    # -- reading ---------------------------------------------------------------------------------------

    def stats(self) -> OutboxStats:
        with self._lock:
            depth, events, oldest = self._conn.execute(
                "SELECT count(*), count(seq), min(stored_at) FROM outbox"
            ).fetchone()
            return OutboxStats(
                depth=depth,
                events=events,
                oldest_stored_at=oldest,
                stored_bytes=self.stored_bytes,
                budget_bytes=self.budget_bytes,
                last_seq=self._meta("last_seq"),
                dropped=self._meta("dropped"),
                rejected=self._meta("rejected"),
                health_thinned=self.health_thinned,
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _meta(self, key: str) -> int:
        return self._scalar("SELECT value FROM meta WHERE key = ?", (key,))

    def _set_meta(self, key: str, value: int) -> None:
        self._conn.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))

    def _scalar(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        return self._conn.execute(sql, params).fetchone()[0]


def _chunks(items: list[Any], size: int = 500) -> Iterator[list[Any]]:
    """Slices that stay under SQLite's bound-parameter limit."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _build(draft: Draft, envelope: Mapping[str, Any]) -> Event:
    try:
        return event_from(draft.body, **envelope)
    except ValidationError as err:
        raise ProtocolError(f"{draft.kind} draft is not a valid event: {describe(err)}") from None
