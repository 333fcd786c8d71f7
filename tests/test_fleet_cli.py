"""``forecourt config``: set, show, status, history, rollback on a real database, as HQ types them."""

import pytest

from cloud.fleet_store import current_document
from cloud.registry import StationEntry, import_stations
from cloud.store import open_db, utc_now
from forecourt.cli import main


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "hq.db"
    db = open_db(path)
    import_stations(db, [StationEntry("oslo-1", "Oslo", "north/oslo"), StationEntry("york-1", "York", "south")], now=utc_now())
    db.close()
    return str(path)


def config(database: str, *args: str) -> int:
    return main(["config", *args, "--database", database])


def test_a_region_setting_reaches_its_stations_and_is_shown_with_its_layer(database, capsys):
    assert config(database, "set", "--region", "north", "restrooms.interval_min=60",
                  "restrooms.active_hours=06:00-22:00", "--by", "alice") == 0
    assert "1 station(s) get a new settings rev (1)" in capsys.readouterr().out
    assert config(database, "set", "--chain", "goals.greet_s=45", "--by", "bob") == 0
    capsys.readouterr()
    assert config(database, "show", "--station", "oslo-1") == 0
    shown = capsys.readouterr().out
    assert "settings rev 1; layers: chain > region:north > region:north/oslo > station:oslo-1" in shown
    assert [line.split() for line in shown.splitlines()[2:]] == [
        ["goals.greet_s", "45", "chain", "(HQ's", "own,", "not", "sent)"],
        ["restrooms.active_hours", '"06:00-22:00"', "region:north"],
        ["restrooms.interval_min", "60", "region:north"],
    ]
    assert config(database, "status") == 0
    status = capsys.readouterr().out.splitlines()
    assert status[1].split() == ["oslo-1", "north/oslo", "unknown", "1", "-", "pending_offline"]
    assert status[-1] == "1 no settings, 1 pending offline"


def test_a_refused_value_names_its_key_and_changes_nothing(database, capsys):
    assert config(database, "set", "--region", "north", "restrooms.interval_min=60", "--by", "alice") == 0
    assert config(database, "set", "--region", "north", "restrooms.interval_min=-5", "kiosks.colour=red", "--by", "eve") == 2
    err = capsys.readouterr().err
    assert "kiosks.colour: unknown setting 'colour'" in err
    assert "restrooms.interval_min: Input should be greater than 0" in err
    db = open_db(database)
    assert current_document(db, "oslo-1").settings == {"restrooms.interval_min": 60}
    assert config(database, "set", "--region", "nowhere", "log_level=INFO") == 2
    assert "no registered station is in region 'nowhere'" in capsys.readouterr().err


def test_history_and_rollback(database, capsys):
    config(database, "set", "--region", "north", "restrooms.interval_min=60", "--by", "alice")
    config(database, "set", "--region", "north", "restrooms.interval_min=20", "--by", "bob")
    capsys.readouterr()
    assert config(database, "rollback", "1", "--by", "carol") == 0
    assert "#3" in capsys.readouterr().out
    assert config(database, "history", "--station", "oslo-1") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["#3", "#2", "#1"]
    assert lines[1].split()[2:] == ["carol", "region:north", "restrooms.interval_min", "20", "->", "60", "rollback", "to", "#1"]
    document = current_document(open_db(database), "oslo-1")
    assert (document.rev, document.settings) == (3, {"restrooms.interval_min": 60})
