"""The station registry: names, a region hierarchy (``province/city/district``) and, optionally, each
station's IANA time zone, imported from CSV. A station without a time zone (NULL) counts its working
days in the collector's ``followups.timezone``.

Stations that publish before anyone registered them are added automatically with
``auto_registered = 1`` and an empty region, so HQ can see and place them.
"""

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cloud.database import Database
from cloud.store import writing
from forecourt.errors import ForecourtError
from forecourt.protocol import check_station_id, format_ts

_SEGMENT = re.compile(r"[^/\s][^/]*")


class RegistryError(ForecourtError, ValueError):
    """A station CSV is malformed; the message names the line."""


@dataclass(frozen=True)
class StationEntry:
    id: str
    name: str
    region: str
    timezone: str | None = None  # None: keep what the registry holds (the collector's default if nothing)


def normalise_region(path: str) -> str:
    """``" North / Leeds/"`` -> ``"North/Leeds"``; raises ValueError on an empty segment."""
    parts = [part.strip() for part in path.strip().strip("/").split("/")] if path.strip() else []
    if any(not _SEGMENT.fullmatch(part) for part in parts):
        raise ValueError(f"region {path!r} has an empty segment (expected e.g. 'province/city/district')")
    return "/".join(parts)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValueError naming it when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone such as 'Europe/Oslo' or 'UTC'") from None


def in_region(region: str, path: str) -> bool:
    """Whether a station in ``region`` lies within ``path`` (the empty path is the whole chain)."""
    return not path or region == path or region.startswith(path + "/")


def region_sql(column: str, path: str) -> tuple[str, list]:
    """A WHERE fragment selecting ``column`` within ``path`` as :func:`in_region` does, and its parameters:
    by whole segments and case-sensitively (``=`` and ``substr`` compare bytes; ``LIKE`` would fold ASCII
    case, so a ``region:east`` token would see ``East/...``, and take ``%``/``_`` in a path as wildcards)."""
    if not path:
        return "1 = 1", []
    return f"({column} = ? OR substr({column}, 1, ?) = ?)", [path, len(path) + 1, path + "/"]


def ancestors(region: str) -> list[str]:
    """``"a/b/c"`` -> ``["a", "a/b", "a/b/c"]``."""
    parts = region.split("/") if region else []
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def parse_csv(text: str) -> list[StationEntry]:
    """Rows of ``id,name,region[,timezone]`` with a header line; every problem is reported with its line.
    An empty or absent timezone leaves the station's stored one as it is."""
    reader = csv.DictReader(io.StringIO(text))
    missing = {"id", "name", "region"} - set(reader.fieldnames or ())
    if missing:
        raise RegistryError(f"line 1: header must name id, name and region (missing: {', '.join(sorted(missing))})")
    entries, problems, seen = [], [], set()
    for row in reader:
        line = reader.line_num
        try:
            station = check_station_id((row["id"] or "").strip())
            region = normalise_region(row["region"] or "")
            timezone = (row.get("timezone") or "").strip() or None
            if timezone is not None:
                zone(timezone)
        except ValueError as err:
            problems.append(f"line {line}: {err}")
            continue
        if station in seen:
            problems.append(f"line {line}: station {station!r} appears twice")
            continue
        seen.add(station)
        entries.append(StationEntry(station, (row["name"] or "").strip(), region, timezone))
    if problems:
        raise RegistryError("\n".join(problems))
    return entries


def import_stations(db: Database, entries: Iterable[StationEntry], *, now: datetime) -> int:
    """Create or update stations (names, regions, time zones given); live status and counters are kept."""
    rows = [(e.id, e.name, e.region, e.timezone, format_ts(now)) for e in entries]
    with writing(db):
        db.executemany(
            """INSERT INTO stations (id, name, region, timezone, auto_registered, registered_at) VALUES (?, ?, ?, ?, 0, ?)
               ON CONFLICT(id) DO UPDATE SET name = excluded.name, region = excluded.region,
               timezone = coalesce(excluded.timezone, stations.timezone), auto_registered = 0""",
            rows,
        )
    return len(rows)


def auto_register(db: Database, stations: Iterable[str], *, now: datetime) -> None:
    """Register unknown publishers, marked as such (call inside the ingest transaction)."""
    db.executemany(
        "INSERT INTO stations (id, name, auto_registered, registered_at) VALUES (?, ?, 1, ?) ON CONFLICT DO NOTHING",
        [(station, station, format_ts(now)) for station in stations],
    )


_HOLD_CHUNK = 500  # ids per IN (...), well under SQLite's variable limit


def hold_stations(db: Database, stations: Sequence[str]) -> dict[str, int | None]:
    """The registered ones of these stations, each with its ``last_seq``, their rows held (locked) for the
    rest of the transaction, taken in id order (call inside it).

    On PostgreSQL several collectors write at once; whoever holds a station's row is the only one
    updating its sequence bookkeeping, counters and rollup marks, and taking the rows in one fixed
    order means two batches never wait on each other in a cycle. SQLite's write lock already
    serialises every writer, so there it is a plain read."""
    ids, held = sorted(set(stations)), {}
    for start in range(0, len(ids), _HOLD_CHUNK):
        chunk = ids[start : start + _HOLD_CHUNK]
        held.update(db.execute(
            f"SELECT id, last_seq FROM stations WHERE id IN ({', '.join('?' * len(chunk))}) ORDER BY id{db.dialect.lock_rows}",
            chunk,
        ).fetchall())
    return held


def all_regions(db: Database) -> list[str]:
    """Every region path and each of its ancestors, sorted."""
    paths: set[str] = set()
    for (region,) in db.execute("SELECT DISTINCT region FROM stations WHERE region != ''"):
        paths.update(ancestors(region))
    return sorted(paths)
