"""The station page's ``/metrics``: the same :class:`~edge.station_view.StationView` as the page, as
Prometheus gauges and counters, plus this process's CPU and memory (prometheus-client's ProcessCollector).

Counters here (frames, published, confirmed, reconnects) count since the service started, as Prometheus
counters may; the outbox and today's figures are gauges.
"""

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from edge.station_view import StationView


def _gauge(name: str, help_text: str, value: float | None) -> Iterator[Metric]:
    if value is not None:
        yield GaugeMetricFamily(name, help_text, value=value)


class StationCollector(Collector):
    def __init__(self, view: Callable[[], StationView]) -> None:
        self._view = view

    def collect(self) -> Iterator[Metric]:
        v = self._view()
        yield InfoMetricFamily("forecourt_edge", "This station", value={"station": v.station, "name": v.name, "version": v.version})
        yield from _gauge("forecourt_edge_uptime_seconds", "Seconds since the service started", v.uptime_s)
        yield from _gauge("forecourt_edge_install_check", "1 while the install check runs (buttons do not count)", int(v.install_check))
        ratings = GaugeMetricFamily("forecourt_edge_ratings_today", "Ratings today by kiosk and score", labels=["kiosk", "score"])
        for kiosk in v.kiosks:
            for score, n in sorted(kiosk.counts_today.items()):
                ratings.add_metric([kiosk.id, str(score)], n)
        yield ratings
        yield from _gauge("forecourt_edge_happy_index_today", "Happy Index of today's ratings (0-100)", v.happy_index_today)
        yield from _gauge("forecourt_edge_cars_today", "Pump-bay visits that ended today", v.cars_today)
        yield from _gauge("forecourt_edge_greet_p50_seconds", "Median greeting time of today's greeted visits", v.greet_p50_s)
        overdue = GaugeMetricFamily("forecourt_edge_restroom_overdue_seconds", "Active seconds past due (0: not overdue)", labels=["restroom"])
        cleaned = GaugeMetricFamily("forecourt_edge_restroom_last_cleaned_timestamp_seconds", "Last counted check-in", labels=["restroom"])
        for room in v.restrooms:
            overdue.add_metric([room.id], room.overdue_s if room.overdue else 0.0)
            if room.last_cleaned is not None:
                cleaned.add_metric([room.id], room.last_cleaned)
        yield from (overdue, cleaned)
        if v.camera.configured:
            yield GaugeMetricFamily("forecourt_edge_camera_running", "1 while vision runs and the camera delivers frames",
                                    value=int(v.camera.running and bool(v.camera.ok)))
            yield from _gauge("forecourt_edge_camera_fps", "Analysis frames per second achieved", v.camera.fps)
            yield CounterMetricFamily("forecourt_edge_camera_frames", "Frames analysed", value=v.camera.frames)
            yield CounterMetricFamily("forecourt_edge_camera_frames_skipped", "Frames the motion gate spared the detector",
                                      value=v.camera.frames_skipped)
        if v.link is not None:
            yield GaugeMetricFamily("forecourt_edge_link_connected", "1 while connected to the chain's broker", value=int(v.link.connected))
            yield CounterMetricFamily("forecourt_edge_link_published", "Outbox rows the broker acknowledged", value=v.link.published)
            yield CounterMetricFamily("forecourt_edge_link_confirmed", "Outbox rows HQ acknowledged storing", value=v.link.confirmed)
            yield CounterMetricFamily("forecourt_edge_link_reconnects", "Reconnections to the broker", value=v.link.reconnects)
            yield GaugeMetricFamily("forecourt_edge_link_awaiting_ack", "Rows sent, not yet acknowledged by HQ", value=v.link.awaiting_ack)
        if v.outbox is not None:
            yield GaugeMetricFamily("forecourt_edge_outbox_depth", "Outbox rows HQ has not acknowledged", value=v.outbox.depth)
            yield from _gauge("forecourt_edge_outbox_oldest_seconds", "Age of the oldest of them", v.outbox.oldest_s)
            yield GaugeMetricFamily("forecourt_edge_outbox_bytes", "Bytes the outbox holds", value=v.outbox.stored_bytes)
            yield GaugeMetricFamily("forecourt_edge_outbox_budget_bytes", "The outbox's disk budget", value=v.outbox.budget_bytes)


def station_registry(view: Callable[[], StationView]) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(StationCollector(view))
    ProcessCollector(registry=registry)  # process_cpu_seconds_total, process_resident_memory_bytes
    return registry
