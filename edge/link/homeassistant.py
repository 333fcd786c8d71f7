"""Home Assistant MQTT discovery documents for one station: pure functions of its config and of a view.

One device per station; its entities are announced by single-component discovery, one retained document
per entity on ``<prefix>/<component>/forecourt_<station>/<object_id>/config``, the format every Home
Assistant since 2021 reads. Entity states travel together in one retained JSON document on
``forecourt/v1/<station>/ha/state`` (each entity picks its field with ``value_template``), kiosk ratings as
``event`` entities on ``forecourt/v1/<station>/ha/kiosk/<kiosk>`` (not retained: an event is a moment, and
a retained one would fire again whenever Home Assistant restarts).

Availability is the station's own status document (``forecourt/v1/<station>/status``, ``{"state":
"online", ...}``, last will ``{"state": "offline"}``), which the bridge (edge/link/ha_bridge.py) mirrors
on the station-local broker. Unique ids are ``forecourt_<station>_<object_id>``, built from config ids
only, so renaming a restroom's *name* keeps its entity and history; removing it clears its documents.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from edge.config import StationConfig
from edge.station_view import StationView
from forecourt.protocol import ROOT, RatingBody, status_topic

_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")  # what Home Assistant allows in a discovery topic's ids


def object_id(text: str) -> str:
    """``text`` as a discovery-topic id; a changed one gets a short hash so 'a.b' and 'a:b' stay apart."""
    safe = _UNSAFE.sub("_", text)
    return safe if safe == text else f"{safe}_{hashlib.sha1(text.encode()).hexdigest()[:6]}"


@dataclass(frozen=True)
class HaTopics:
    prefix: str
    station: str

    @property
    def node(self) -> str:
        return f"forecourt_{self.station}"

    @property
    def status(self) -> str:
        return status_topic(self.station)

    @property
    def state(self) -> str:
        return f"{ROOT}/{self.station}/ha/state"

    def kiosk(self, kiosk: str) -> str:
        return f"{ROOT}/{self.station}/ha/kiosk/{object_id(kiosk)}"

    def config(self, component: str, oid: str) -> str:
        return f"{self.prefix}/{component}/{self.node}/{oid}/config"

    @property
    def own_configs(self) -> str:
        """A filter for every discovery document of this station (to see what the broker holds)."""
        return f"{self.prefix}/+/{self.node}/+/config"

    @property
    def ha_status(self) -> str:
        return f"{self.prefix}/status"


@dataclass(frozen=True)
class Entity:
    component: str  # sensor, binary_sensor, event
    oid: str  # object id, also the state field it reads
    name: str
    extra: dict[str, Any]


def _entities(config: StationConfig) -> list[Entity]:
    out = []
    for room in config.restrooms:
        oid, label = object_id(f"restroom_{room.id}"), room.name or room.id
        out.append(Entity("binary_sensor", f"{oid}_overdue", f"{label} overdue", {"device_class": "problem"}))
        out.append(Entity("sensor", f"{oid}_last_cleaned", f"{label} last cleaned", {"device_class": "timestamp"}))
    for kiosk in config.kiosks:
        out.append(Entity("event", object_id(f"kiosk_{kiosk.id}"), f"Kiosk {kiosk.location} ({kiosk.id})", {
            "device_class": "button", "event_types": [f"score_{n}" for n in range(1, kiosk.scale + 1)],
        }))
    out += [
        Entity("sensor", "happy_index_today", "Happy Index today",
               {"unit_of_measurement": "%", "state_class": "measurement", "icon": "mdi:emoticon-happy-outline"}),
        Entity("sensor", "ratings_today", "Ratings today", {"state_class": "total_increasing", "icon": "mdi:counter"}),
    ]
    if config.camera is not None:
        out += [
            Entity("sensor", "cars_today", "Cars today", {"state_class": "total_increasing", "icon": "mdi:car"}),
            Entity("sensor", "greeting_p50", "Greeting time today (median)",
                   {"device_class": "duration", "unit_of_measurement": "s", "state_class": "measurement"}),
            Entity("sensor", "camera_fps", "Camera analysis rate",
                   {"unit_of_measurement": "fps", "state_class": "measurement", "entity_category": "diagnostic"}),
            Entity("binary_sensor", "camera_running", "Camera", {"device_class": "running", "entity_category": "diagnostic"}),
        ]
    out += [
        Entity("binary_sensor", "link_connected", "Link to HQ", {"device_class": "connectivity", "entity_category": "diagnostic"}),
        Entity("sensor", "outbox_depth", "Outbox depth",
               {"state_class": "measurement", "icon": "mdi:tray-full", "entity_category": "diagnostic"}),
    ]
    return out


def discovery_documents(config: StationConfig, *, version: str, prefix: str = "homeassistant",
                        page_url: str | None = None) -> dict[str, dict[str, Any]]:
    """Config topic -> discovery document, for every entity of this station."""
    station = config.station.id
    topics = HaTopics(prefix, station)
    device: dict[str, Any] = {
        "identifiers": [topics.node], "name": config.station.name or station, "manufacturer": "Forecourt",
        "model": "Station edge", "sw_version": version, "serial_number": station,
    }
    if page_url:
        device["configuration_url"] = page_url
    availability = [{"topic": topics.status, "value_template": "{{ value_json.state }}",
                     "payload_available": "online", "payload_not_available": "offline"}]
    kiosks = {object_id(f"kiosk_{k.id}"): k.id for k in config.kiosks}
    documents = {}
    for entity in _entities(config):
        doc: dict[str, Any] = {
            "name": entity.name, "unique_id": f"{topics.node}_{entity.oid}", "device": device,
            "origin": {"name": "forecourt", "sw_version": version}, "availability": availability,
            **entity.extra,
        }
        if entity.component == "event":
            doc["state_topic"] = topics.kiosk(kiosks[entity.oid])
        else:
            doc["state_topic"] = topics.state
            field = f"value_json['{entity.oid}']"
            if entity.component == "binary_sensor":
                doc["value_template"] = f"{{{{ 'ON' if {field} else 'OFF' }}}}"
            else:  # a null renders as None, which Home Assistant's MQTT sensor shows as unknown
                doc["value_template"] = f"{{{{ {field} }}}}"
        documents[topics.config(entity.component, entity.oid)] = doc
    return documents


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def state_document(view: StationView) -> dict[str, Any]:
    """The retained state every sensor and binary sensor reads its field from."""
    state: dict[str, Any] = {}
    for room in view.restrooms:
        oid = object_id(f"restroom_{room.id}")
        state[f"{oid}_overdue"] = room.overdue
        state[f"{oid}_last_cleaned"] = _iso(room.last_cleaned)
    state["happy_index_today"] = None if view.happy_index_today is None else round(view.happy_index_today, 1)
    state["ratings_today"] = view.ratings_today
    if view.camera.configured:
        state["cars_today"] = view.cars_today
        state["greeting_p50"] = None if view.greet_p50_s is None else round(view.greet_p50_s, 1)
        state["camera_fps"] = view.camera.fps
        state["camera_running"] = bool(view.camera.running and view.camera.ok)
    state["link_connected"] = bool(view.link and view.link.connected)
    state["outbox_depth"] = view.outbox.depth if view.outbox else None
    state["day"] = view.day  # the station-local day the *_today figures count
    return state


def kiosk_event(body: RatingBody) -> dict[str, Any]:
    """An ``event`` entity's payload: ``event_type`` is one of the entity's ``event_types``; the rest become
    the event's attributes."""
    return {"event_type": f"score_{body.score}", "score": body.score, "scale": body.scale, "reason": body.reason}
