"""The demo fleet: twelve stations in three regions, each with a valid station config.

Station quality is spread so the leaderboard shows every band; one station's cleaner skips the early
afternoon, one station's shop kiosk gets hammered, and one station (``oslo-sentrum``) has a camera that
is ``examples/footage/vtest.avi`` through the real detector and tracker.
"""

import csv
import io
import tomllib
from collections.abc import Sequence
from pathlib import Path

from edge.config import StationConfig
from forecourt.demo.simulator import Profile

REPO = Path(__file__).resolve().parents[2]
FOOTAGE = REPO / "examples" / "footage" / "vtest.avi"
VTEST_CONFIG = REPO / "examples" / "vtest-station.toml"
CAMERA_STATION = "oslo-sentrum"

FLEET: tuple[Profile, ...] = (
    Profile("oslo-sentrum", "Oslo Sentrum", "east/oslo/sentrum", quality=0.9, peak_vehicles_per_hour=30, camera=True),
    Profile("oslo-majorstuen", "Oslo Majorstuen", "east/oslo/majorstuen", quality=0.97, peak_vehicles_per_hour=36),
    Profile("oslo-grorud", "Oslo Grorud", "east/oslo/grorud", quality=0.75, peak_vehicles_per_hour=28),
    Profile("lillestrom", "Lillestrøm", "east/viken/lillestrom", quality=0.88, peak_vehicles_per_hour=24),
    Profile("bergen-sentrum", "Bergen Sentrum", "west/bergen/sentrum", quality=0.93, peak_vehicles_per_hour=30),
    Profile("bergen-danmarksplass", "Bergen Danmarksplass", "west/bergen/danmarksplass", quality=0.82,
            peak_vehicles_per_hour=34, cleaner_skips=True),
    Profile("stavanger-forus", "Stavanger Forus", "west/rogaland/forus", quality=0.3, peak_vehicles_per_hour=40),
    Profile("haugesund", "Haugesund", "west/rogaland/haugesund", quality=0.86, peak_vehicles_per_hour=18),
    Profile("trondheim-lade", "Trondheim Lade", "north/trondheim/lade", quality=0.85, peak_vehicles_per_hour=32,
            kiosk_hammered=True),
    Profile("trondheim-sentrum", "Trondheim Sentrum", "north/trondheim/sentrum", quality=0.95, peak_vehicles_per_hour=22),
    Profile("bodo", "Bodø", "north/nordland/bodo", quality=0.7, peak_vehicles_per_hour=16),
    Profile("tromso", "Tromsø", "north/troms/tromso", quality=0.9, peak_vehicles_per_hour=20),
)

_SCALES = (4, 5, 3)  # kiosks come in every size the protocol allows; the Happy Index must cope


def station_config(
    profile: Profile,
    index: int,
    *,
    data_dir: Path,
    broker_url: str,
    password: str,
    health_interval_s: float = 60.0,
    camera_fps: float = 4.0,
) -> StationConfig:
    """A config as an installer would write it, with the demo's broker, password and data directory."""
    shop_scale = _SCALES[index % len(_SCALES)]
    shop_buttons = [20, 21, 16, 12, 7][:shop_scale]
    data = {
        "station": {"id": profile.station, "name": profile.name, "region": profile.region, "timezone": "UTC"},
        "mqtt": {"url": broker_url, "username": profile.station, "password": password},
        "outbox": {"path": str(data_dir / profile.station / "outbox.db"), "replay_rate": 5000.0, "inflight": 200},
        "health": {"interval_s": health_interval_s},
        "restrooms": [
            {"id": "ladies", "name": "Ladies", "button_pin": 5, "led_pin": 6, "buzzer_pin": 13,
             "interval_min": 60, "active_hours": "06:00-23:00"},
            {"id": "gents", "name": "Gents", "button_pin": 19, "led_pin": 26,
             "interval_min": 60, "active_hours": "06:00-23:00"},
        ],
        "kiosks": [
            {"id": "restroom-exit", "location": "restroom", "scale": 4, "buttons": [17, 27, 22, 10],
             "thank_you_led_pin": 9, "reasons": [{"reason": "cleanliness", "pin": 11}, {"reason": "supplies", "pin": 0}]},
            {"id": "shop-counter", "location": "shop", "scale": shop_scale, "buttons": shop_buttons},
        ],
        "zones": [
            {"id": "bay-1", "kind": "pump_bay", "polygon": [[40, 40], [360, 40], [360, 260], [40, 260]]},
            {"id": "bay-2", "kind": "pump_bay", "polygon": [[400, 40], [720, 40], [720, 260], [400, 260]]},
            {"id": "bay-3", "kind": "pump_bay", "polygon": [[40, 300], [360, 300], [360, 540], [40, 540]]},
        ],
    }
    if profile.camera:
        # The vision engineers' zones for vtest.avi (a van and a car parked top-right as two pump bays,
        # people crossing the road); one detector thread leaves the other core to the rest of the demo.
        vision = tomllib.loads(VTEST_CONFIG.read_text())
        data["camera"] = {**vision.get("camera", {}), "source": str(FOOTAGE), "fps": camera_fps, "loop": True}
        data["detector"] = {**vision.get("detector", {}), "threads": 1}
        data["zones"] = vision["zones"]
        if "tracker" in vision:
            data["tracker"] = vision["tracker"]
    return StationConfig.model_validate(data)


def registry_csv(profiles: Sequence[Profile] = FLEET) -> str:
    """The station registry as ``forecourt stations import`` reads it: id, name, region."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "name", "region"])
    for profile in profiles:
        writer.writerow([profile.station, profile.name, profile.region])
    return out.getvalue()


def regions(profiles: Sequence[Profile] = FLEET) -> list[str]:
    return sorted({p.region.split("/")[0] for p in profiles})
