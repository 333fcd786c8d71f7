"""The collector on a real Mosquitto: it publishes each station's document retained when its rev changes and
again after a restart (the same rev: harmless), and keeps the config state each station reports."""

import json
from datetime import UTC, datetime

from cloud.auth import Scope
from cloud.config import FleetSettings
from cloud.fleet_config import Layer
from cloud.fleet_link import FleetPublisher
from cloud.fleet_rollout import rollout
from cloud.fleet_store import change_settings, current_document
from cloud.registry import StationEntry, import_stations
from cloud.store import open_db
from forecourt.protocol import ConfigState, config_topic, decode_config, encode, format_ts
from tests import mqtt
from tests.cloud_kit import start_collector, wait_until

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def retained_revs(broker) -> dict[str, int]:
    """What the broker retains on the config topics now, as a new subscriber sees it."""
    recorder = mqtt.Recorder(broker, "forecourt/v1/+/config")
    try:
        recorder.wait_for(lambda got: len(got) >= 2, timeout=3)
        return {topic.split("/")[2]: decode_config(topic, payload).rev for topic, payload, _ in recorder.snapshot()}
    finally:
        recorder.close()


def test_documents_reach_the_broker_retained_and_states_come_back(broker, tmp_path):
    path = tmp_path / "hq.db"
    db = open_db(path)
    import_stations(db, [StationEntry("a", "A", "north"), StationEntry("b", "B", "south")], now=NOW)
    collector = start_collector(broker, path)
    fleet = FleetPublisher(path, collector.client, settings=FleetSettings(poll_s=0.05),
                           generation=lambda: collector.connections).start()
    watcher = mqtt.Recorder(broker, "forecourt/v1/+/config")
    try:
        change_settings(db, Layer("region", "north"), values={"restrooms.interval_min": 30}, by="alice", now=NOW)
        assert watcher.wait_for(lambda got: any(t == config_topic("a") for t, _, _ in got), timeout=5)
        topic, payload, _ = watcher.snapshot()[0]
        document = decode_config(topic, payload)
        assert (topic, document.rev, document.settings) == (config_topic("a"), 1, {"restrooms.interval_min": 30})

        station = mqtt.connect(broker, "a")
        state = ConfigState(rev=1, hash=document.hash, state="applied", applied_rev=1, at=format_ts(NOW))
        mqtt.publish(station, *encode(state, "a"), retain=True)
        assert wait_until(lambda: any(r["rollout"] == "applied" for r in rollout(db, Scope())), timeout=10)
        rows = {r["station"]: r for r in rollout(db, Scope())}
        assert (rows["a"]["rollout"], rows["a"]["applied_rev"], rows["b"]["rollout"]) == ("applied", 1, "no_settings")
        station.disconnect()
        station.loop_stop()

        change_settings(db, Layer("station", "b"), values={"log_level": "DEBUG"}, by="bob", now=NOW)
        assert wait_until(lambda: retained_revs(broker) == {"a": 1, "b": 1}, timeout=5)
    finally:
        watcher.close()
        fleet.stop()
        collector.stop()

    collector = start_collector(broker, path)  # a restart publishes every current document again
    fleet = FleetPublisher(path, collector.client, generation=lambda: collector.connections).start()
    try:
        assert wait_until(lambda: fleet.published == 2, timeout=5)
        assert retained_revs(broker) == {"a": 1, "b": 1}
        assert current_document(db, "a").rev == 1
        assert json.loads(db.execute("SELECT errors FROM fleet_states WHERE station = 'a'").fetchone()[0]) == []
    finally:
        fleet.stop()
        collector.stop()
        db.close()
