"""The station config (one TOML file per station), validated once at start-up.

Every field carries a description (a test enforces it) so ``examples/station.toml`` and the
errors of ``forecourt check-config`` can speak the user's language.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from forecourt.connection import BrokerConnection
from forecourt.listen import ListenAddress, parse_listen
from forecourt.protocol import check_station_id
from forecourt.protocol.fleet import KioskRules, RestroomRules, ZoneRules
from forecourt.settings import Section, apply_overrides, load_toml, validate

Pin = Annotated[int, Field(ge=0, le=53, description="BCM GPIO number")]
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Point = tuple[float, float]


class StationInfo(Section):
    id: str = Field(description="Station id, also its MQTT username: [a-z0-9][a-z0-9-]{0,63}")
    name: str = Field("", description="Human name shown at HQ")
    region: str = Field("", description="Region path, e.g. 'north/oslo/centre'")
    timezone: str = Field("UTC", description="IANA time zone for active hours, e.g. 'Europe/Oslo'")

    @field_validator("id")
    @classmethod
    def _station_id(cls, value: str) -> str:
        return check_station_id(value)


class MqttSettings(BrokerConnection):
    """The station's link to the chain's broker: the shared connection kit plus what only a station sets."""

    client_id: str | None = Field(
        None, description="MQTT client id; defaults to forecourt-<station id> (the shipped broker replaces it with the username)"
    )
    protocol: Literal["5", "3.1.1"] = Field(
        "5", description="MQTT version: 5 (a rejected publish, e.g. not authorised, is reported) or 3.1.1 (it is not)"
    )


class OutboxSettings(Section):
    path: Path = Field(Path("/var/lib/forecourt/outbox.db"), description="SQLite outbox; every event lands here first")
    max_mb: float = Field(200.0, gt=0, description="Disk budget; health samples are thinned first, then an alert")
    inflight: int = Field(100, ge=1, le=65535, description="QoS 1 messages awaiting PUBACK at once")
    replay_rate: float = Field(
        500.0, gt=0, description="Most messages sent per second, so a fleet replaying backlogs after an outage does not stampede the broker"
    )
    keep_until: Literal["stored", "puback"] = Field(
        "stored",
        description="Keep each event until HQ acknowledges storing it (stored) or only until the broker's PUBACK "
        "(puback: loses what a restarting broker drops; only for a broker whose ACL hides the ack topic)",
    )
    resend_after_s: float = Field(
        30.0, gt=0, le=3600,
        description="Send an event again when HQ has not acknowledged it this many seconds after it was sent "
        "(doubling while HQ stays silent, up to 10x)",
    )
    unacked_limit: int = Field(
        5000, ge=1, le=1_000_000,
        description="Most events sent but not yet acknowledged by HQ; beyond it the station waits (bounds the broker's queue while HQ is down)",
    )


class HealthSettings(Section):
    interval_s: float = Field(60.0, ge=1, description="Seconds between health messages")


class GpioSettings(Section):
    bounce_ms: float = Field(
        30.0, ge=0, le=1000, description="Contact-bounce suppression: a button must stay put this long for a change to count"
    )


class RestroomConfig(RestroomRules):
    """A restroom: its wiring here, how its cleaning is judged in :class:`RestroomRules` (HQ may set those)."""

    id: Ident = Field(description="Restroom id, unique in the station")
    name: str = Field("", description="Name on the dashboard, e.g. 'Ladies'")
    button_pin: Pin = Field(description="Check-in button pressed by staff after cleaning")
    led_pin: Pin | None = Field(None, description="LED: steady = recently cleaned, blinking = overdue")
    buzzer_pin: Pin | None = Field(None, description="Buzzer: chirps on check-in, beeps when overdue")


class ReasonButton(Section):
    reason: Ident = Field(description="What the button says: cleanliness, waiting, staff, price, ...")
    pin: Pin = Field(description="GPIO of the reason button")


class KioskConfig(KioskRules):
    """A kiosk: its wiring here, how presses become ratings in :class:`KioskRules` (HQ may set those)."""

    id: Ident = Field(description="Kiosk id, unique in the station")
    location: str = Field(description="Where it stands: restroom, shop, forecourt, ...")
    scale: Literal[3, 4, 5] = Field(description="Number of smiley buttons")
    buttons: list[Pin] = Field(description="Button pins from unhappiest to happiest; as many as the scale")
    thank_you_led_pin: Pin | None = Field(None, description="LED lit briefly after a counted rating")
    reasons: list[ReasonButton] = Field(default_factory=list, description="Optional reason buttons")

    @model_validator(mode="after")
    def _one_button_per_level(self) -> "KioskConfig":
        if len(self.buttons) != self.scale:
            raise ValueError(f"buttons: {len(self.buttons)} pins given for a scale of {self.scale}")
        return self


class CameraConfig(Section):
    source: str = Field(description="Video file path, rtsp:// URL, or a V4L2 device index such as '0'")
    fps: float = Field(5.0, gt=0, le=60, description="Analysis rate; frames are paced to it")
    source_fps: float | None = Field(
        None, gt=0, le=240,
        description="A recording's true frame rate, when its container declares another (files only); "
        "empty = the container's rate. Every time measured from a file runs on this clock",
    )
    retry_max_s: float = Field(60.0, gt=0, description="Longest wait between attempts to reopen a dead camera")
    loop: bool = Field(False, description="Replay a video file from the start when it ends (demos, soak tests)")


class DetectorConfig(Section):
    model: Path | None = Field(None, description="ONNX model file; empty = the bundled NanoDet-g of `precision`")
    precision: Literal["int8", "fp32"] = Field(
        "int8", description="Bundled model when `model` is empty: int8 (default; agrees with fp32 on >= 95% of boxes) or fp32"
    )
    format: Literal["nanodet", "yolo"] = Field("nanodet", description="Output layout: nanodet (GFL) or yolo (v8/11 [1,4+C,N])")
    input_size: int = Field(416, ge=64, le=1280, multiple_of=32, description="Square model input, a multiple of 32")
    threads: int = Field(2, ge=1, le=16, description="onnxruntime intra-op threads")
    score_threshold: float = Field(0.35, gt=0, lt=1, description="Detections below this are discarded")
    nms_iou: float = Field(0.5, gt=0, lt=1, description="IoU above which overlapping boxes are merged")
    classes: list[str] = Field(
        ["person", "car", "truck", "bus", "motorcycle", "bicycle"], description="Class names to keep (COCO names for the bundled model)"
    )
    class_names: list[str] | None = Field(
        None, description="The model's class names in id order; empty = the model's metadata (YOLO exports) or COCO"
    )
    motion_gate: bool = Field(True, description="Skip detection on frames without motion")
    motion_threshold: int = Field(
        25, ge=1, le=255, description="Grey-level change (0-255) for a pixel of the downscaled frame to count as moving"
    )
    motion_min_area: float = Field(
        0.002, ge=0, lt=1, description="Share of downscaled pixels that must move for a frame to be analysed"
    )


class ZoneConfig(ZoneRules):
    """A zone or pump bay: where it lies here, how it times what it sees in :class:`ZoneRules` (HQ may set those)."""

    id: Ident = Field(description="Zone id, unique in the station")
    kind: Literal["zone", "pump_bay"] = Field("zone", description="A plain zone records dwells; a pump bay also times visits")
    polygon: list[Point] = Field(description="Corners in image pixels [[x, y], ...], at least 3")
    classes: list[str] = Field(["person", "car", "truck", "bus", "motorcycle"], description="Classes it counts")
    service_area: list[Point] | None = Field(
        None, description="Pump bays: where an attendant stands to serve; defaults to the bay polygon"
    )
    grace_s: float = Field(
        1.0, ge=0, le=60,
        description="Dwell records: seconds an occupant must be seen out of the zone before its stay ends (it ends when it "
        "crossed out), so two people trading ids for a moment or a foot on the edge do not split a stay. Unseen, it waits "
        "tracker.reid_s. Pump-bay visits have merge_window_s",
    )

    @field_validator("polygon", "service_area")
    @classmethod
    def _enough_points(cls, value: list[Point] | None) -> list[Point] | None:
        if value is not None and len(value) < 3:
            raise ValueError(f"a polygon needs at least 3 points, got {len(value)}")
        return value


def _new_track(default: float) -> Any:
    return Field(default, gt=0, le=1, description="Only detections from this score start a track (raise it if static clutter becomes tracks)")


def _high(default: float) -> Any:
    return Field(default, gt=0, lt=1, description="Detections from this score are matched first; weaker ones only keep tracks alive")


def _low(default: float) -> Any:
    return Field(default, ge=0, lt=1, description="Detections below this score are ignored by the tracker")


def _confirm(default: float) -> Any:
    return Field(
        default, gt=0, le=1.01,
        description="A track started from this score is confirmed (gets an id) on its first frame; weaker starts wait "
        "for a second frame. Above 1 = always wait",
    )


def _reid_speed(default: float) -> Any:
    return Field(
        default, gt=0, le=10,
        description="How fast a lost object's course may change while unseen, in box sizes (square root of its area) "
        "per second: how far from its path a re-identified box may be",
    )


class PeopleTracking(Section):
    """Tracker thresholds for people (and every class that is not a vehicle: bicycles)."""

    new_track_score: float = _new_track(0.7)
    high_score: float = _high(0.6)
    low_score: float = _low(0.1)
    confirm_score: float = _confirm(0.8)
    reid_speed: float = _reid_speed(1.0)


class VehicleTracking(Section):
    """Tracker thresholds for vehicles (car, truck, bus, motorcycle)."""

    new_track_score: float = _new_track(0.6)
    high_score: float = _high(0.5)
    low_score: float = _low(0.1)
    confirm_score: float = _confirm(0.8)
    reid_speed: float = _reid_speed(0.5)


_PER_CLASS = ("new_track_score", "high_score", "low_score", "confirm_score")


class TrackerConfig(Section):
    """The multi-object tracker (edge/vision/tracker.py). Score thresholds are per class group in
    ``[tracker.people]`` and ``[tracker.vehicles]``; one given here applies to every group that does not set
    its own."""

    high_score: float | None = Field(
        None, gt=0, lt=1, description="Every class: detections from this score are matched first; empty = each group's own"
    )
    low_score: float | None = Field(None, ge=0, lt=1, description="Every class: detections below this score are ignored; empty = each group's own")
    new_track_score: float | None = Field(
        None, gt=0, le=1, description="Every class: only detections from this score start a track; empty = each group's own"
    )
    confirm_score: float | None = Field(
        None, gt=0, le=1.01, description="Every class: a start from this score is confirmed on its first frame; empty = each group's own"
    )
    match_iou: float = Field(0.3, gt=0, lt=1, description="Least overlap of a confident detection with a track's predicted box")
    lost_s: float = Field(1.0, ge=0, description="Seconds a lost track can still be matched by overlap with its predicted box")
    reid_s: float = Field(
        3.0, ge=0, le=30,
        description="Seconds a lost track can be re-identified: a confident new box where it could have walked, looking like "
        "it, gets its id back (never less than lost_s). Zones wait this long for an unseen occupant before its stay ends",
    )
    reid_look: float = Field(
        40.0, gt=0, le=255,
        description="Largest colour difference of a re-identified box from the lost track (RMS over the mean BGR of "
        "upper body and legs, 0-255)",
    )
    people: PeopleTracking = Field(default_factory=PeopleTracking, description="Thresholds for people (and bicycles)")
    vehicles: VehicleTracking = Field(default_factory=VehicleTracking, description="Thresholds for cars, trucks, buses and motorcycles")

    def rules(self, group: Literal["people", "vehicles"]) -> PeopleTracking | VehicleTracking:
        """A group's effective thresholds: its own where its table sets them, else this table's, else its defaults."""
        own = self.people if group == "people" else self.vehicles
        inherited = {
            name: getattr(self, name) for name in _PER_CLASS
            if name not in own.model_fields_set and getattr(self, name) is not None
        }
        return own.model_copy(update=inherited)


class WebSettings(Section):
    """The station's own page (edge/web/): what it is doing now, the install check and the zone editor."""

    enabled: bool = Field(
        False, description="Serve the station page; off by default: it costs memory on the Pi and shows the camera's picture"
    )
    listen: str = Field(
        "127.0.0.1:8081",
        description="HOST:PORT of the page; loopback by default (reach it with ssh -L 8081:127.0.0.1:8081 PI). "
        "Any other address needs password_file",
    )
    password_file: Path | None = Field(
        None, description="File holding the page's password (user 'forecourt', HTTP Basic); must not be readable by group or others"
    )
    install_check_min: float = Field(
        15.0, gt=0, le=240, description="Minutes after which a forgotten install check ends by itself and the buttons count again"
    )

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_listen(value, "127.0.0.1:8081")
        return value

    @property
    def address(self) -> ListenAddress:
        return parse_listen(self.listen)

    @model_validator(mode="after")
    def _password_off_loopback(self) -> "WebSettings":
        if self.enabled and not self.address.loopback and self.password_file is None:
            raise ValueError(f"password_file: the page on {self.listen} is reachable from the network; give it a password")
        return self


class HomeAssistantSettings(BrokerConnection):
    """Home Assistant MQTT discovery (edge/link/homeassistant.py), to a broker at the station, never the chain's."""

    SECTION: ClassVar[str] = "homeassistant"

    enabled: bool = Field(False, description="Announce this station to Home Assistant and publish its figures")
    discovery_prefix: str = Field(
        "homeassistant", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Home Assistant's discovery prefix (its MQTT setting)"
    )
    state_every_s: float = Field(
        5.0, ge=1, le=3600, description="Least seconds between two state publications; only a changed state is published"
    )


class StationConfig(Section):
    station: StationInfo = Field(description="Who this station is")
    mqtt: MqttSettings = Field(default_factory=MqttSettings, description="The chain's broker")
    outbox: OutboxSettings = Field(default_factory=OutboxSettings, description="Durable local store")
    health: HealthSettings = Field(default_factory=HealthSettings, description="Periodic health")
    gpio: GpioSettings = Field(default_factory=GpioSettings, description="Button wiring")
    restrooms: list[RestroomConfig] = Field(default_factory=list, description="Restrooms with check-in buttons")
    kiosks: list[KioskConfig] = Field(default_factory=list, description="Satisfaction kiosks")
    camera: CameraConfig | None = Field(None, description="Forecourt camera; omit to run without vision")
    detector: DetectorConfig = Field(default_factory=DetectorConfig, description="Object detector")
    zones: list[ZoneConfig] = Field(default_factory=list, description="Zones and pump bays on the camera image")
    tracker: TrackerConfig = Field(default_factory=TrackerConfig, description="Multi-object tracker")
    web: WebSettings = Field(default_factory=WebSettings, description="The station's own page, on the station's network")
    homeassistant: HomeAssistantSettings = Field(
        default_factory=HomeAssistantSettings, description="Home Assistant MQTT discovery, to a station-local broker"
    )

    def pins(self) -> Iterator[tuple[str, int]]:
        """Every GPIO pin in use with the key path that claims it, in file order."""
        for i, room in enumerate(self.restrooms):
            for name in ("button_pin", "led_pin", "buzzer_pin"):
                if (pin := getattr(room, name)) is not None:
                    yield f"restrooms[{i}].{name}", pin
        for i, kiosk in enumerate(self.kiosks):
            for j, pin in enumerate(kiosk.buttons):
                yield f"kiosks[{i}].buttons[{j}]", pin
            if kiosk.thank_you_led_pin is not None:
                yield f"kiosks[{i}].thank_you_led_pin", kiosk.thank_you_led_pin
            for j, reason in enumerate(kiosk.reasons):
                yield f"kiosks[{i}].reasons[{j}].pin", reason.pin

    @model_validator(mode="after")
    def _no_pin_twice(self) -> "StationConfig":
        seen: dict[int, str] = {}
        for path, pin in self.pins():
            if pin in seen:
                raise ValueError(f"{path}: pin {pin} is already used by {seen[pin]}")
            seen[pin] = path
        return self

    @model_validator(mode="after")
    def _unique_ids(self) -> "StationConfig":
        for field in ("restrooms", "kiosks", "zones"):
            seen: dict[str, int] = {}
            for i, item in enumerate(getattr(self, field)):
                if item.id in seen:
                    raise ValueError(f"{field}[{i}].id: {item.id!r} is already used by {field}[{seen[item.id]}]")
                seen[item.id] = i
        return self


def load_station_config(path: str | Path, *, broker_url: str | None = None) -> StationConfig:
    """Read, override (flag > ``FORECOURT_BROKER_URL`` > file) and validate a station config."""
    data = apply_overrides(load_toml(path), {"mqtt.url": ("FORECOURT_BROKER_URL", broker_url)})
    return validate(StationConfig, data, str(path))
