"""Decoding and storing in a child process, so the MQTT thread and the database work use two cores.

In one process the two share the GIL: receiving (paho, ~50 µs a message) and validating + storing
(~35 µs) add up, and the collector stored about half of what the broker could deliver. The child
owns an :class:`Ingestor`; batches go over a pipe (one pickle per batch, not per message) and the
reply comes back once the batch is committed, so the caller still acknowledges only after the commit.

A child that dies is replaced on the next batch; the batch in hand is reported as a storage error,
so the subscriber keeps it unacknowledged and retries.
"""

import logging
import multiprocessing
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path

from cloud.ingest import BatchReport, Incoming, Ingestor

log = logging.getLogger("forecourt.collector.worker")


def _serve(conn: Connection, db_path: str, dead_letter_bytes: int) -> None:
    from cloud.store import open_db

    ingestor = Ingestor(open_db(db_path), dead_letter_bytes=dead_letter_bytes)
    while True:
        try:
            pairs, now = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        batch = [Incoming(topic, payload) for topic, payload in pairs]
        try:
            conn.send(("ok", ingestor.store(batch, now=now)))
        except sqlite3.OperationalError as err:
            conn.send(("operational", str(err)))
        except Exception as err:  # reported to the parent, which logs and retries
            conn.send(("error", f"{type(err).__name__}: {err}"))


class ProcessIngestor:
    """Same ``store`` as :class:`Ingestor`, done by a child process over a pipe."""

    def __init__(self, db_path: str | Path, *, dead_letter_bytes: int = 2048) -> None:
        self.db_path = str(db_path)
        self.dead_letter_bytes = dead_letter_bytes
        self._context = multiprocessing.get_context("spawn")  # never fork a process that runs threads
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None

    def start(self) -> "ProcessIngestor":
        """Start the child now rather than on the first batch (it takes a moment to import)."""
        if self._process is None or not self._process.is_alive():
            self._start()
        return self

    def _start(self) -> Connection:
        parent, child = self._context.Pipe()
        self._process = self._context.Process(
            target=_serve, args=(child, self.db_path, self.dead_letter_bytes), name="collector-ingest", daemon=True
        )
        self._process.start()
        child.close()
        self._conn = parent
        return parent

    def store(self, batch: Sequence[Incoming], *, now: datetime) -> BatchReport:
        conn = self._conn if self._process is not None and self._process.is_alive() else self._start()
        try:
            conn.send(([(m.topic, m.payload) for m in batch], now))  # tuples pickle in a third of a dataclass's time
            status, result = conn.recv()
        except (EOFError, OSError) as err:
            self.close()
            raise sqlite3.OperationalError(f"the ingest process died: {err}") from None
        if status == "ok":
            return result
        if status == "operational":
            raise sqlite3.OperationalError(result)
        raise RuntimeError(f"the ingest process failed: {result}")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
            self._process = None
