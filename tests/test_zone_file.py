"""The zone editor's file writer: only the edited polygons change, the rest of the file (comments, layout)
stays as written, and nothing is written that the station's own config model would refuse."""

import tomllib

import pytest

from edge.config import load_station_config
from edge.web.zone_file import ZoneEdit, replace_polygons, save_zones
from forecourt.errors import ConfigError

HEAD = '''# A station (comments must survive the editor)
[station]
id = "a"

[[zones]]
id = "bay-1"   # the pump nearest the shop
kind = "pump_bay"
polygon = [
  [0, 0], [10, 0],   # top edge
  [10, 10], [0, 10],
]
classes = ["car"]

[[zones]]
id = "road"
polygon = [[0, 20], [50, 20], [50, 40]]

[tracker]
lost_s = 1.0
'''
SQUARE = [(100.0, 100.0), (200.0, 100.0), (200.0, 180.0), (100.0, 180.0)]


def zones(text: str) -> dict[str, list]:
    return {z["id"]: z["polygon"] for z in tomllib.loads(text)["zones"]}


def test_a_multi_line_polygon_is_replaced_and_everything_else_kept():
    out = replace_polygons(HEAD, [ZoneEdit("bay-1", SQUARE)])
    assert zones(out) == {"bay-1": [[100, 100], [200, 100], [200, 180], [100, 180]], "road": [[0, 20], [50, 20], [50, 40]]}
    assert "# the pump nearest the shop" in out and "# A station" in out and 'classes = ["car"]' in out
    assert out.count("\n") == HEAD.count("\n") - 3  # four polygon lines became one


def test_a_new_zone_is_appended_as_its_own_block():
    out = replace_polygons(HEAD, [ZoneEdit("exit", [(1, 2), (3, 4.5), (5, 6)], kind="zone")])
    assert zones(out)["exit"] == [[1, 2], [3, 4.5], [5, 6]]
    assert tomllib.loads(out)["tracker"] == {"lost_s": 1.0}  # the table before it is untouched


def test_save_validates_backs_up_and_replaces(tmp_path):
    path = tmp_path / "station.toml"
    path.write_text(HEAD)
    path.chmod(0o640)
    saved = save_zones(path, [ZoneEdit("road", SQUARE)])
    assert saved.backup.read_text() == HEAD and saved.backup.name.startswith("station.toml.")
    assert load_station_config(path).zones[1].polygon == SQUARE
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize(("text", "edit", "message"), [
    (HEAD, ZoneEdit("road", [(0, 0), (1, 1)]), "at least 3 points"),  # the config model refuses it
    ('zones = [{id = "z", polygon = [[0, 0], [1, 0], [1, 1]]}]\n[station]\nid = "a"\n',
     ZoneEdit("z", SQUARE), "inline"),
    ('[station]\nid = "a"\n[[zones]]\nid = "z"\npolygon = [[0, 0],\n', ZoneEdit("z", SQUARE), "never close"),
])
def test_what_the_station_would_refuse_is_never_written(tmp_path, text, edit, message):
    path = tmp_path / "station.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        save_zones(path, [edit])
    assert path.read_text() == text
    assert list(tmp_path.iterdir()) == [path]  # no backup, no temporary file left behind
