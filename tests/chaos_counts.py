"""What a chaos run did, counted: its faults, each station's stored seqs, and the :class:`Outcome`.

Pure counting, no processes: :func:`count_stored` reads the collector's SQLite file, :func:`count_rows`
counts ``(station, seq, copies)`` rows from whichever database gave them. Used by ``tests/chaos_kit.py``.
"""

import contextlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# -- what happened ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultRecord:
    action: str
    planned: float  # share it was planned at
    share: float  # share committed when it fired
    t: float  # seconds since the fleet started
    committed: dict[str, int]  # each station's last committed seq when it fired
    broker_uptime_s: float | None = None  # for broker kills
    target: str = ""  # a station's id, for station kills


@dataclass(frozen=True)
class StationCount:
    station: str
    distinct: int  # distinct seqs stored in 1..events
    duplicates: int  # rows beyond one per seq (a seq stored under two ids)
    missing: tuple[int, ...]
    unexpected: int  # rows with a seq outside 1..events


@dataclass
class Outcome:
    expected: int
    per_station: dict[str, StationCount]
    redeliveries: int  # copies the collector received again and skipped (stations.duplicates)
    faults: list[FaultRecord]
    drain_s: float | None  # last fault -> every station exited and every event stored; None: not within the bound
    exits: dict[str, int | None]  # the last process of each station
    elapsed_s: float
    autosave_s: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return sum(c.distinct for c in self.per_station.values())

    @property
    def lost(self) -> int:
        return sum(len(c.missing) for c in self.per_station.values())

    @property
    def duplicates(self) -> int:
        return sum(c.duplicates for c in self.per_station.values())

    def losses(self) -> list[str]:
        """Each station's missing seqs, as runs, with the fault after whose window each run was committed."""
        lines = []
        for station, count in self.per_station.items():
            for first, last in _runs(count.missing):
                lines.append(f"{station} seq {first}-{last} ({last - first + 1}): {self.window(station, first)}")
        return lines

    def window(self, station: str, seq: int) -> str:
        before = "the start"
        for record in self.faults:
            if record.committed.get(station, 0) >= seq:
                return f"committed between {before} and {record.action}@{record.share:.0%} (t={record.t:.1f} s)"
            before = f"{record.action}@{record.share:.0%}"
        return f"committed after the last fault ({before})"


def _runs(values: tuple[int, ...]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for v in values:
        if runs and v == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    return runs


# What count_rows() counts, in SQL both backends take; a PostgreSQL caller runs them itself.
STORED_SQL = "SELECT station, seq, count(*) FROM events GROUP BY station, seq"
REDELIVERIES_SQL = "SELECT coalesce(sum(duplicates), 0) FROM stations"


def count_stored(db_path: Path, stations: list[str], events: int) -> tuple[dict[str, StationCount], int]:
    """Per station from the collector's ``events`` table, and the redeliveries it skipped."""
    with contextlib.closing(sqlite3.connect(db_path, timeout=30)) as db:
        rows = db.execute(STORED_SQL).fetchall()
        redeliveries = db.execute(REDELIVERIES_SQL).fetchone()[0]
    return count_rows(rows, stations, events), redeliveries


def count_rows(rows: Iterable[tuple[str, int, int]], stations: list[str], events: int) -> dict[str, StationCount]:
    """Per station from ``(station, seq, copies)`` rows (:data:`STORED_SQL`), whichever database gave them."""
    seqs: dict[str, dict[int, int]] = {s: {} for s in stations}
    for station, seq, n in rows:
        seqs.setdefault(station, {})[seq] = n
    counts = {}
    for station, got in seqs.items():
        inside = {s: n for s, n in got.items() if 1 <= s <= events}
        counts[station] = StationCount(
            station, len(inside), sum(n - 1 for n in inside.values()),
            tuple(s for s in range(1, events + 1) if s not in inside), sum(n for s, n in got.items() if s not in inside),
        )
    return counts
