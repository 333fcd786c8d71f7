"""Process-local Prometheus counters and histograms of the ingest path, fed one :class:`BatchReport` at a time.

The subscriber hands every committed batch's report to :meth:`IngestMetrics.record` (its ``on_batch``).
With ``ingest.worker_process`` the batch is stored by a child process, but the report, with its timings
and per-event delays, comes back over the pipe to the parent, which serves ``/metrics``: so the counts are
the same in both modes and no Prometheus multiprocess directory is needed. They start from zero when the
collector starts, as Prometheus counters may; the table-derived gauges (cloud/prometheus.py) read the
database, which holds the truth across restarts.

Dead letters are counted by reason *family* (:func:`reason_family`), a short fixed vocabulary: the reason
itself holds field names and values, and as a label it would make a new time series per bad payload.
"""

import re

from prometheus_client import CollectorRegistry, Counter, Histogram

from cloud.ingest import BatchReport

OUTCOMES = ("stored", "duplicate", "dead_letter", "status", "health", "config_state", "ignored")

# First match wins; the patterns follow the wording of forecourt/protocol's ProtocolError messages and of
# cloud/ingest.py's own ("storage error: ...", "undecodable: ...").
_FAMILIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (family, re.compile(pattern)) for family, pattern in (
        ("storage", r"^storage error:"),
        ("undecodable", r"^undecodable:"),
        ("size", r"^(payload is \d+ bytes|.*encoded payload is \d+ bytes)"),
        ("encoding", r"^payload is not UTF-8"),
        ("json", r"^(payload is not JSON|payload must be a JSON object|payload refused)"),
        ("topic", r"^topic |cloud -> edge|^station id "),
        ("schema", r"^[a-z_]+: "),  # "<model>: field 'x': ..." from pydantic's validation
        ("version", r"^(missing )?field 'v'|^unknown major version"),
        ("station", r"^(missing field 'station'|payload station )"),
        ("kind", r"^(payload kind |unknown event kind )"),
        ("time", r"^ts .* (future|past)"),
    )
)
FAMILIES = tuple(family for family, _ in _FAMILIES) + ("other",)

# Seconds. Batches take milliseconds (a fsync-bound commit ~5-20 ms on an SSD); delays span a live
# station (well under a second) to an outbox replayed after days offline.
BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DELAY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 6 * 3600.0,
                 86400.0, 7 * 86400.0)


def reason_family(reason: str) -> str:
    """The family of a dead letter's reason: one of :data:`FAMILIES`."""
    for family, pattern in _FAMILIES:
        if pattern.search(reason):
            return family
    return "other"


class IngestMetrics:
    """The ingest path's counters and histograms, registered on ``registry`` (never the process-wide one:
    tests and the demo run several collectors in one process)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "forecourt_ingest_messages", "Messages ingested, by what became of them", ["outcome"], registry=registry
        )
        self.dead_letters = Counter(
            "forecourt_ingest_dead_letters", "Messages stored as dead letters, by reason family", ["reason"],
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "forecourt_ingest_batch_seconds", "Time to decode, store and commit one batch", buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.commit_seconds = Histogram(
            "forecourt_ingest_commit_seconds", "Time of one batch's COMMIT", buckets=BATCH_BUCKETS, registry=registry
        )
        self.delay_seconds = Histogram(
            "forecourt_ingest_delay_seconds",
            "Received minus event time, per stored event (clamped at 0 for a station clock ahead of ours)",
            buckets=DELAY_BUCKETS, registry=registry,
        )
        for outcome in OUTCOMES:  # every series exists from the start, so rate() sees the first increase
            self.messages.labels(outcome)
        for family in FAMILIES:
            self.dead_letters.labels(family)

    def record(self, report: BatchReport) -> None:
        counts = {
            "stored": report.stored, "duplicate": report.duplicates, "dead_letter": report.dead,
            "status": report.statuses, "health": report.health, "config_state": report.config_states,
            "ignored": report.ignored,
        }
        for outcome, n in counts.items():
            if n:
                self.messages.labels(outcome).inc(n)
        for reason in report.reasons:
            self.dead_letters.labels(reason_family(reason)).inc()
        self.batch_seconds.observe(report.batch_s)
        self.commit_seconds.observe(report.commit_s)
        observe = self.delay_seconds.observe
        for delay in report.delays_s:
            observe(max(0.0, delay))
