"""What the collector's ``/metrics`` shows: one :class:`CollectorMetrics` per collector process.

Three sources, each read where its truth is:

* the ingest path's counters and histograms, process-local (cloud/ingest_metrics.py);
* figures of the database's tables, read at scrape time by :class:`DatabaseCollector`: stations by status,
  per-station last-seen and outbox depth (from each station's latest health sample) with one
  ``forecourt_station_info`` carrying names and regions, open sequence gaps, the rollup backlog (dirty
  marks) and poison hours, unresolved alerts by rule. Several collectors on one database show the same
  values: aggregate them with ``max``, not ``sum``;
* the broker's own figures from ``$SYS`` (cloud/broker_sys.py), as the collector's MQTT client last saw them.

Per-station series are gauges only (two per station plus the info series): a histogram per station would
multiply a fleet of 30,000 by its buckets.
"""

import platform
import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from cloud.broker_sys import FIGURES, BrokerSys
from cloud.database import Database, pool
from cloud.ingest_metrics import IngestMetrics
from cloud.rules import Rule
from forecourt import __version__
from forecourt.protocol import parse_ts

STATUSES = ("online", "offline", "unknown")
UNRESOLVED = ("open", "acknowledged")


def epoch(ts: str | None) -> float | None:
    """A stored protocol timestamp as Unix seconds (None stays None; an unreadable one too)."""
    if not ts:
        return None
    try:
        return parse_ts(ts).timestamp()
    except Exception:  # a scrape must not fail on one odd row
        return None


def number(value: object) -> float | None:
    """A JSON field read with ``->>`` (SQLite gives a number, PostgreSQL its text) as a number, else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


class DatabaseCollector(Collector):
    """Reads the collector's database on every scrape, on a read-only connection of its own (a scrape never
    creates, migrates or locks the database for writing)."""

    def __init__(self, target: str | Path) -> None:
        self.connections = pool(target, size=2, read_only=True)

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        with self.connections.connection() as db:
            families = [*self._stations(db), *self._backlogs(db), *self._alerts(db)]
        yield from families
        yield GaugeMetricFamily(
            "forecourt_scrape_database_seconds", "Time this scrape spent reading the database",
            value=time.perf_counter() - started,
        )

    def _stations(self, conn: Database) -> Iterator[Metric]:
        rows = conn.execute(
            "SELECT id, name, region, status, last_seen, (health ->> 'outbox_depth') FROM stations ORDER BY id"
        ).fetchall()
        by_status = dict.fromkeys(STATUSES, 0)
        info = InfoMetricFamily("forecourt_station", "One series per station: its name and region", labels=["station"])
        seen = GaugeMetricFamily(
            "forecourt_station_last_seen_timestamp_seconds", "When HQ last received anything from the station",
            labels=["station"],
        )
        depth = GaugeMetricFamily(
            "forecourt_station_outbox_depth", "Rows in the station's outbox not yet acknowledged, as of its latest health sample",
            labels=["station"],
        )
        for station, name, region, status, last_seen, outbox_depth in rows:
            by_status[status] = by_status.get(status, 0) + 1
            info.add_metric([station], {"name": name or "", "region": region or ""})
            if (when := epoch(last_seen)) is not None:
                seen.add_metric([station], when)
            if (rows_waiting := number(outbox_depth)) is not None:
                depth.add_metric([station], rows_waiting)
        statuses = GaugeMetricFamily("forecourt_stations", "Stations by their retained status", labels=["status"])
        for status, n in by_status.items():
            statuses.add_metric([status], n)
        yield from (statuses, info, seen, depth)

    def _backlogs(self, conn: Database) -> Iterator[Metric]:
        gaps, missing = conn.execute("SELECT count(*), coalesce(sum(last_seq - first_seq + 1), 0) FROM seq_gaps").fetchone()
        yield GaugeMetricFamily("forecourt_seq_gaps", "Open sequence gaps (events HQ has not seen, not yet replayed)", value=gaps)
        yield GaugeMetricFamily("forecourt_seq_gap_events", "Events missing in the open sequence gaps", value=missing)
        (dirty,) = conn.execute("SELECT count(*) FROM dirty").fetchone()
        yield GaugeMetricFamily("forecourt_rollup_dirty_station_hours", "Station-hours waiting to be rolled up", value=dirty)
        (poison,) = conn.execute("SELECT count(*) FROM poison_hours").fetchone()
        yield GaugeMetricFamily(
            "forecourt_rollup_poison_station_hours", "Station-hours whose rollup failed and is set aside (/poison-hours)",
            value=poison,
        )

    def _alerts(self, conn: Database) -> Iterator[Metric]:
        counts = {(rule, state): 0 for rule in Rule for state in UNRESOLVED}
        for rule, state, n in conn.execute(
            "SELECT rule, state, count(*) FROM alerts WHERE state != 'resolved' GROUP BY rule, state"
        ):
            counts[(rule, state)] = n
        alerts = GaugeMetricFamily(
            "forecourt_alerts", "Unresolved alerts by rule and state (open, acknowledged)", labels=["rule", "state"]
        )
        for (rule, state), n in sorted(counts.items()):
            alerts.add_metric([str(rule), state], n)
        yield alerts


class BrokerCollector(Collector):
    """The broker's ``$SYS`` figures as last received; nothing until the first arrives."""

    def __init__(self, broker: BrokerSys) -> None:
        self.broker = broker

    def collect(self) -> Iterator[Metric]:
        values, version, updated_at = self.broker.snapshot()
        for suffix, figure in FIGURES.items():
            if suffix not in values:
                continue
            name = f"forecourt_broker_{figure.metric}"
            family = CounterMetricFamily if figure.kind == "counter" else GaugeMetricFamily
            yield family(name, f"{figure.help} ($SYS/broker/{suffix})", value=values[suffix])
        if version is not None:
            yield InfoMetricFamily("forecourt_broker", "The broker's version ($SYS/broker/version)", value={"version": version})
        if updated_at is not None:
            yield GaugeMetricFamily(
                "forecourt_broker_sys_updated_timestamp_seconds", "When the last $SYS figure arrived", value=updated_at
            )


class BuildCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield InfoMetricFamily(
            "forecourt_build", "The running Forecourt", value={"version": __version__, "python": platform.python_version()}
        )


class CollectorMetrics:
    """The registry ``/metrics`` serves: :attr:`ingest` is fed by the subscriber, the rest read on scrape."""

    def __init__(self, target: str | Path, *, broker: BrokerSys | None = None, ingest: bool = True) -> None:
        self.registry = CollectorRegistry()
        # Without ingest (an API serving a database another process fills) there are no zeros to mislead.
        self.ingest = IngestMetrics(self.registry) if ingest else None
        self.registry.register(DatabaseCollector(target))
        self.registry.register(BuildCollector())
        if broker is not None:
            self.registry.register(BrokerCollector(broker))
