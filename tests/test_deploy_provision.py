"""`forecourt provision`: what it writes, what it refuses, and that a provisioned station really connects."""

import json
import shutil
import signal
import stat
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.config import load_station_config
from edge.link.outbox import Outbox
from edge.link.publisher import Publisher
from forecourt.cli import main
from forecourt.commands.provision import provision_collector, provision_station
from forecourt.dynsec import read_clients, verify_password
from forecourt.errors import ConfigError
from forecourt.protocol import Status, format_epoch
from tests.deploy_kit import Pki, ShippedBroker, pki_fixture  # noqa: F401
from tests.drafting import draft
from tests.mqtt import Recorder, Refused, connect, publish

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BIRTH = Status(state="online", version="test", config_hash="deploy", started_at=format_epoch(0))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def credentials(path: Path) -> tuple[str, str]:
    user, _, password = path.read_text().strip().partition(":")
    return user, password


def restart_and_connect(broker: ShippedBroker, user: str, password: str) -> None:
    """What docs/INSTALL.md has the operator do: `systemctl restart mosquitto` (2.0.11 reads the file only then)."""
    broker.restart()
    client = connect(broker, user, password)
    client.disconnect()
    client.loop_stop()


def hashed(dynsec: Path, user: str) -> dict:
    return dict(read_clients(dynsec)[user].hashed)


@pytest.mark.parametrize("flag", ["--dynsec", "--passwd"])  # --passwd: the name older instructions use
def test_station_files_are_valid_private_and_match_the_dynsec_file(tmp_path, capsys, flag):
    dynsec = tmp_path / "mosquitto" / "forecourt-dynsec.json"
    dynsec.parent.mkdir()
    code = main(["provision", "station", "oslo-1", "--region", "east/oslo/sentrum", "--name", 'Oslo "S"',
                 "--timezone", "Europe/Oslo", "--out", str(tmp_path / "out"), flag, str(dynsec)])
    assert code == 0
    out = tmp_path / "out"
    user, password = credentials(out / "credentials")
    assert user == "oslo-1" and len(password) >= 32
    assert mode(out / "credentials") == 0o600 and mode(dynsec) == 0o600
    assert verify_password(password, hashed(dynsec, "oslo-1")) and not read_clients(dynsec)["oslo-1"].collector
    assert "sudo systemctl restart mosquitto" in capsys.readouterr().out
    assert main(["check-config", "--no-files", str(out / "station.toml")]) == 0
    config = load_station_config(out / "station.toml")
    assert (config.station.id, config.station.name, config.station.region, config.station.timezone) == (
        "oslo-1", 'Oslo "S"', "east/oslo/sentrum", "Europe/Oslo")
    assert config.mqtt.credentials_file == Path("/etc/forecourt/credentials")
    assert (config.mqtt.ca_file, config.mqtt.cert_file, config.mqtt.key_file) == (
        Path("/etc/forecourt/ca.crt"), Path("/etc/forecourt/station.crt"), Path("/etc/forecourt/station.key"))
    assert config.outbox.path == Path("/var/lib/forecourt/outbox.db")


def test_collector_files_are_valid_and_other_users_are_kept(tmp_path):
    dynsec = tmp_path / "forecourt-dynsec.json"
    provision_station("a", region="north", out=tmp_path / "a", dynsec=dynsec, now=NOW)
    before = hashed(dynsec, "a")
    dynsec.chmod(0o640)  # e.g. root:mosquitto 0640 on the broker host
    done = provision_collector(out=tmp_path / "hq", dynsec=dynsec, now=NOW)
    assert main(["check-config", "--collector", "--no-files", str(done.config_file)]) == 0
    assert credentials(done.credentials_file) == ("collector", done.password)
    entries = read_clients(dynsec)
    assert sorted(entries) == ["a", "collector"] and dict(entries["a"].hashed) == before
    assert entries["collector"].collector and not entries["a"].collector
    assert mode(dynsec) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "forecourt-dynsec.json", "hq", "stations.csv"]  # no temp files left


def test_provision_roles_gives_stations_provisioned_before_a_new_event_kind_the_right_to_send_it(tmp_path, capsys):
    """A file written by a version without ``filtered_presses``: the broker would refuse that kind from the
    station. ``provision roles`` rewrites the roles from the code and keeps every password."""
    dynsec = tmp_path / "forecourt-dynsec.json"
    provision_station("a", region="north", out=tmp_path / "a", dynsec=dynsec, now=NOW)
    provision_collector(out=tmp_path / "hq", dynsec=dynsec, now=NOW)
    old = json.loads(dynsec.read_text())
    for role in old["roles"]:
        role["acls"] = [acl for acl in role["acls"] if not acl["topic"].endswith("/event/filtered_presses")]
    dynsec.write_text(json.dumps(old))
    passwords = {user: dict(client.hashed) for user, client in read_clients(dynsec).items()}

    def sends(text: str) -> set[str]:
        [role] = [r for r in json.loads(text)["roles"] if r["rolename"].endswith("a")]
        return {acl["topic"] for acl in role["acls"] if acl["acltype"] == "publishClientSend"}

    assert "forecourt/v1/a/event/filtered_presses" not in sends(dynsec.read_text())
    assert main(["provision", "roles", "--dynsec", str(dynsec)]) == 0
    assert "roles of 2 user(s) rewritten" in capsys.readouterr().out
    assert "forecourt/v1/a/event/filtered_presses" in sends(dynsec.read_text())
    assert {user: dict(client.hashed) for user, client in read_clients(dynsec).items()} == passwords
    assert main(["provision", "roles", "--dynsec", str(tmp_path / "none.json")]) == 1


def test_a_second_collector_gets_its_own_username_and_no_station_may_take_a_collectors(tmp_path, capsys):
    dynsec = tmp_path / "forecourt-dynsec.json"
    assert main(["provision", "collector", "--username", "collector-2", "--out", str(tmp_path / "c2"),
                 "--dynsec", str(dynsec)]) == 0
    assert credentials(tmp_path / "c2" / "collector.credentials")[0] == "collector-2"
    assert 'username = "collector-2"' in (tmp_path / "c2" / "collector.toml").read_text()
    assert read_clients(dynsec)["collector-2"].collector
    with pytest.raises(ConfigError, match="'collector-2' is a collector"):
        provision_station("collector-2", region="x", out=tmp_path / "s", dynsec=dynsec, force=True)
    provision_station("a", region="x", out=tmp_path / "a", dynsec=dynsec)
    with pytest.raises(ConfigError, match="'a' is already a station"):
        provision_collector(username="a", out=tmp_path / "ca", dynsec=dynsec, force=True)
    assert not (tmp_path / "s").exists() and not (tmp_path / "ca").exists()
    assert sorted(read_clients(dynsec)) == ["a", "collector-2"]


@pytest.mark.parametrize(
    ("station", "region", "message"),
    [
        ("collector", "north", "reserved for the collector"),
        ("Oslo_1", "north", r"must match \[a-z0-9\]"),
        ("-x", "north", r"must match"),
        ("x" * 65, "north", r"must match"),
        ("ok", "north//oslo", "--region"),
        ("ok", "/north", "--region"),
        ("ok", "", "--region"),
    ],
)
def test_bad_ids_and_regions_are_refused_before_anything_is_written(tmp_path, station, region, message):
    with pytest.raises(ConfigError, match=message):
        provision_station(station, region=region, out=tmp_path / "out", dynsec=tmp_path / "dynsec.json")
    assert list(tmp_path.iterdir()) == []


def test_cli_reports_a_refused_id_and_exits_1(tmp_path, capsys):
    assert main(["provision", "station", "collector", "--region", "x", "--out", str(tmp_path), "--dynsec",
                 str(tmp_path / "dynsec.json")]) == 1
    assert "ERROR forecourt: station id 'collector' is reserved for the collector" in capsys.readouterr().err


def test_bad_broker_url_is_refused_with_the_config_key(tmp_path):
    with pytest.raises(ConfigError, match=r"mqtt\.url: 'broker\.example\.com' is not a broker URL"):
        provision_station("a", region="x", broker_url="broker.example.com", out=tmp_path / "o", dynsec=tmp_path / "d.json")
    assert list(tmp_path.iterdir()) == []


def test_bad_timezone_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="IANA time zone"):
        provision_station("a", region="x", timezone="Oslo", out=tmp_path / "o", dynsec=tmp_path / "d.json")


def test_existing_station_is_kept_unless_forced(tmp_path):
    dynsec = tmp_path / "dynsec.json"
    first = provision_station("a", region="x", out=tmp_path / "one", dynsec=dynsec)
    with pytest.raises(ConfigError, match="already exist"):
        provision_station("a", region="x", out=tmp_path / "one", dynsec=dynsec)
    with pytest.raises(ConfigError, match="already has a password for 'a'"):
        provision_station("a", region="x", out=tmp_path / "two", dynsec=dynsec)
    assert verify_password(first.password, hashed(dynsec, "a"))
    rotated = provision_station("a", region="x", out=tmp_path / "one", dynsec=dynsec, force=True)
    assert rotated.password != first.password
    assert verify_password(rotated.password, hashed(dynsec, "a"))
    assert credentials(tmp_path / "one" / "credentials") == ("a", rotated.password)


def test_missing_dynsec_file_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="is Mosquitto installed here"):
        provision_station("a", region="x", out=tmp_path / "o", dynsec=tmp_path / "no" / "dynsec.json")


HQ = {"collector": "collector-secret", "observer": "observer-secret"}


def test_provisioned_station_connects_and_publishes_after_a_broker_restart(tmp_path, pki):
    with ShippedBroker(tmp_path / "broker", pki=pki, users=HQ) as broker:
        done = provision_station("b", region="x", out=tmp_path / "b", dynsec=broker.dynsec_file)
        broker.process.send_signal(signal.SIGHUP)  # `systemctl reload mosquitto` is not enough on 2.0.11
        with pytest.raises(Refused):
            connect(broker, "b", done.password, timeout=2)
        user, password = credentials(done.credentials_file)
        restart_and_connect(broker, user, password)
        collector = Recorder(broker)
        station = connect(broker, user, password)
        try:
            publish(station, "forecourt/v1/b/status", b'{"state": "online"}', retain=True)
            assert collector.wait_for(lambda msgs: ("forecourt/v1/b/status", b'{"state": "online"}', False) in msgs)
        finally:
            station.loop_stop()
            collector.close()


def install_station_files(pki: Pki, etc: Path, name: str) -> None:
    """What docs/INSTALL.md has the technician copy into /etc/forecourt/ besides the provisioned files."""
    shutil.copyfile(pki.ca, etc / "ca.crt")
    shutil.copyfile(pki.cert(name), etc / "station.crt")
    shutil.copyfile(pki.key(name), etc / "station.key")


def test_provisioned_station_runs_the_edge_link_over_mutual_tls(tmp_path, pki):
    with ShippedBroker(tmp_path / "broker", pki=pki, users=HQ) as broker:
        etc = tmp_path / "etc-forecourt"
        done = provision_station(
            "a", region="east/oslo", out=etc, etc=etc, dynsec=broker.dynsec_file,
            broker_url=f"mqtts://127.0.0.1:{broker.tls_port}",
        )
        install_station_files(pki, etc, "a")
        restart_and_connect(broker, "a", done.password)
        collector = Recorder(broker)
        config = load_station_config(done.config_file)
        outbox = Outbox(tmp_path / "outbox.db", station="a")  # /var/lib/forecourt is not ours to write here
        publisher = Publisher(outbox, config.mqtt, station="a", birth=BIRTH)
        publisher.start()
        try:
            event = outbox.store(draft("cleaning", time.time(), {"restroom": "ladies"}))
            assert publisher.wait_connected(10), publisher.last_error
            assert collector.wait_for(lambda msgs: any(event.id.encode() in p for t, p, _ in msgs), timeout=10)
        finally:
            publisher.stop()
            outbox.close()
            collector.close()
