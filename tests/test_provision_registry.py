"""A station provisioned with --region and --name arrives at HQ with them: provisioning writes its row to
the registry CSV that `forecourt stations import` reads, and a region's token then sees the station."""

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloud.auth import Scope
from cloud.queries import station_rows
from cloud.registry import auto_register
from cloud.store import open_db, writing
from forecourt.cli import main
from forecourt.commands.provision import provision_station
from forecourt.errors import ConfigError

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def provision(tmp_path: Path, station: str, *extra: str) -> int:
    """``--out DIR/<station>``: the registry is ``DIR/stations.csv``, beside the stations' folders."""
    return main(["provision", "station", station, "--out", str(tmp_path / station), "--dynsec",
                 str(tmp_path / "dynsec.json"), *extra])


def import_from_stdin(csv: Path, database: Path) -> subprocess.CompletedProcess:
    with csv.open() as stdin:
        return subprocess.run(
            [sys.executable, "-m", "forecourt", "stations", "import", "-", "--database", str(database)],
            stdin=stdin, capture_output=True, text=True, timeout=60,
        )


def test_provisioned_name_region_and_time_zone_reach_hq_and_its_region_tokens(tmp_path, capsys):
    assert provision(tmp_path, "oslo-sentrum-01", "--region", "east/oslo/sentrum", "--name", "Oslo Sentrum",
                     "--timezone", "Europe/Oslo") == 0
    assert "stations import - --config /etc/forecourt/collector.toml < " in capsys.readouterr().out
    assert provision(tmp_path, "bergen-01", "--region", "west/bergen", "--name", "Bergen, Danmarksplass") == 0
    registry = tmp_path / "stations.csv"
    assert registry.read_text() == (
        "id,name,region,timezone\n"
        'bergen-01,"Bergen, Danmarksplass",west/bergen,UTC\n'
        "oslo-sentrum-01,Oslo Sentrum,east/oslo/sentrum,Europe/Oslo\n"
    )

    database = tmp_path / "collector.db"
    db = open_db(database)
    with writing(db):  # the station published before anyone imported it: HQ placed it nowhere
        auto_register(db, ["oslo-sentrum-01"], now=NOW)
    assert [(r["name"], r["region"]) for r in station_rows(db, Scope())] == [("oslo-sentrum-01", "")]

    done = import_from_stdin(registry, database)
    assert (done.returncode, done.stdout) == (0, "imported 2 station(s) from standard input\n"), done.stderr
    rows = {r["id"]: r for r in station_rows(db, Scope())}
    assert (rows["oslo-sentrum-01"]["name"], rows["oslo-sentrum-01"]["region"]) == ("Oslo Sentrum", "east/oslo/sentrum")
    assert rows["oslo-sentrum-01"]["auto_registered"] is False
    assert [r["id"] for r in station_rows(db, Scope(region="east"))] == ["oslo-sentrum-01"]
    assert db.execute("SELECT timezone FROM stations WHERE id = 'oslo-sentrum-01'").fetchone() == ("Europe/Oslo",)


def test_provisioning_again_replaces_the_stations_row(tmp_path):
    assert provision(tmp_path, "a-1", "--region", "north", "--name", "Old") == 0
    assert provision(tmp_path, "a-1", "--region", "north/leeds", "--name", "New", "--force") == 0
    assert (tmp_path / "stations.csv").read_text() == "id,name,region,timezone\na-1,New,north/leeds,UTC\n"


def test_a_file_that_is_no_registry_is_refused_before_anything_is_written(tmp_path):
    registry = tmp_path / "stations.csv"
    registry.write_text("station;region\n")
    with pytest.raises(ConfigError, match="not a station registry"):
        provision_station("a-1", region="north", out=tmp_path / "a-1", dynsec=tmp_path / "dynsec.json",
                          registry=registry, now=NOW)
    assert not (tmp_path / "a-1").exists() and not (tmp_path / "dynsec.json").exists()
