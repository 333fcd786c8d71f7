"""Config validation: good files pass, bad ones fail naming the key path; every field is described."""

import subprocess
import sys
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from cloud.config import CollectorConfig, load_collector_config
from edge.config import StationConfig, load_station_config
from forecourt.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
STATION = ROOT / "examples" / "station.toml"
COLLECTOR = ROOT / "examples" / "collector.toml"


def check_config(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "forecourt", "check-config", str(path)], capture_output=True, text=True, timeout=60
    )


def edited(tmp_path: Path, old: str, new: str, source: Path = STATION) -> Path:
    text = source.read_text()
    assert old in text, f"example no longer contains {old!r}"
    path = tmp_path / source.name
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("path", [STATION, COLLECTOR])
def test_examples_are_valid(path):
    result = check_config(path)
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("interval_min = 60\nactive_hours", "intervall_min = 60\nactive_hours", "restrooms[0].intervall_min: unknown key"),
        ("button_pin = 19", "button_pin = 17", "kiosks[0].buttons[0]: pin 17 is already used by restrooms[1].button_pin"),
        ('id = "demo-oslo-01"', 'id = "Demo Oslo"', "station.id: "),
        ('active_hours = "06:00-23:00"', 'active_hours = "6-23"', "restrooms[0].active_hours: "),
        ("buttons = [20, 21, 16]", "buttons = [20, 21]", "kiosks[1]: buttons: 2 pins given for a scale of 3"),
        ("polygon = [[0, 300], [768, 300], [768, 576], [0, 576]]", "polygon = [[0, 300], [768, 300]]",
         "zones[1].polygon: Value error, a polygon needs at least 3 points"),
        ('url = "mqtt://127.0.0.1:1883"  #', 'url = "http://broker"  #', "mqtt.url: "),
        ('id = "gents"', 'id = "ladies"', "restrooms[1].id: 'ladies' is already used by restrooms[0]"),
        ("[station]", "[stations]", "stations: unknown key"),
    ],
)
def test_bad_station_config_names_the_key(tmp_path, old, new, message):
    result = check_config(edited(tmp_path, old, new))
    assert result.returncode != 0
    assert message.replace("Value error, ", "") in result.stderr


def test_broken_toml_and_missing_file_are_clear(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[station\nid = 1")
    assert "not valid TOML" in check_config(broken).stderr
    assert "no such config file" in check_config(tmp_path / "nope.toml").stderr


def test_bad_collector_config(tmp_path):
    result = check_config(edited(tmp_path, 'listen = "127.0.0.1:8080"', 'listen = "8080"', COLLECTOR))
    assert result.returncode != 0 and "http.listen: " in result.stderr


def test_overrides_flag_beats_environment_beats_file(monkeypatch):
    assert load_collector_config(COLLECTOR).mqtt.url == "mqtt://127.0.0.1:1883"
    monkeypatch.setenv("FORECOURT_BROKER_URL", "mqtt://env-broker:1884")
    monkeypatch.setenv("FORECOURT_DATABASE", "/tmp/env.db")
    monkeypatch.setenv("FORECOURT_LISTEN", "0.0.0.0:9000")
    from_env = load_collector_config(COLLECTOR)
    assert (from_env.mqtt.url, str(from_env.database.path), from_env.http.port) == (
        "mqtt://env-broker:1884", "/tmp/env.db", 9000)
    from_flags = load_collector_config(COLLECTOR, broker_url="mqtts://flag:8883", database="/x.db", listen="[::1]:81")
    assert (from_flags.mqtt.url, str(from_flags.database.path), from_flags.http.host) == (
        "mqtts://flag:8883", "/x.db", "::1")
    assert load_station_config(STATION).mqtt.url == "mqtt://env-broker:1884"
    assert load_station_config(STATION, broker_url="mqtt://flag:1").mqtt.url == "mqtt://flag:1"


def test_override_is_validated_too(monkeypatch):
    monkeypatch.setenv("FORECOURT_LISTEN", "nonsense")
    with pytest.raises(ConfigError, match="http.listen"):
        load_collector_config(COLLECTOR)


def _models(root: type[BaseModel]) -> set[type[BaseModel]]:
    found, todo = set(), [root]
    while todo:
        model = todo.pop()
        if model in found:
            continue
        found.add(model)
        for field in model.model_fields.values():
            for arg in _flatten(field.annotation):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    todo.append(arg)
    return found


def _flatten(annotation) -> list:
    args = typing.get_args(annotation)
    return [annotation] if not args else [a for arg in args for a in _flatten(arg)]


@pytest.mark.parametrize("root", [StationConfig, CollectorConfig])
def test_every_config_field_has_a_description(root):
    missing = [f"{m.__name__}.{name}" for m in _models(root) for name, f in m.model_fields.items() if not f.description]
    assert missing == []
