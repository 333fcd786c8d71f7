"""`forecourt check-config` is as strict as the services are at start: every broken file exits 1 with one
clear line and no traceback, and the line says which kind of config it took the file for."""

import subprocess
import sys
from pathlib import Path

import pytest

from forecourt.commands.check_config import detect
from forecourt.errors import ConfigError
from tests.deploy_kit import Pki, pki_fixture  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
STATION = (ROOT / "examples" / "station.toml").read_text()
COLLECTOR = (ROOT / "examples" / "collector.toml").read_text()
STATION_URL = 'url = "mqtt://127.0.0.1:1883"  #'


def check(path: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "forecourt", "check-config", *flags, str(path)], capture_output=True, text=True, timeout=60
    )


def station(tmp_path: Path, old: str = "", new: str = "", name: str = "station.toml") -> Path:
    assert old in STATION, f"examples/station.toml no longer contains {old!r}"
    path = tmp_path / name
    path.write_text(STATION.replace(old, new, 1))
    return path


def refused(result: subprocess.CompletedProcess, path: Path, line: str) -> None:
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"error: {path}: {line}\n", "one line, no traceback"


@pytest.mark.parametrize("zone", ["Europe/Olso", "Mars/Olympus"])
def test_a_time_zone_the_edge_would_refuse_is_refused(tmp_path, zone):
    path = station(tmp_path, 'timezone = "Europe/Oslo"', f'timezone = "{zone}"')
    refused(check(path), path, f"station config: station.timezone: {zone!r} is not an IANA time zone such as 'Europe/Oslo'")


def test_a_missing_credentials_file_is_refused_and_a_private_one_passes(tmp_path):
    credentials = tmp_path / "credentials"
    path = station(tmp_path, STATION_URL, f'credentials_file = "{credentials}"\n{STATION_URL}')
    refused(check(path), path, f"station config: mqtt.credentials_file: cannot read {credentials}: No such file or directory")
    credentials.write_text("demo-oslo-01:secret\n")
    credentials.chmod(0o644)
    assert "accessible by group or others" in check(path).stderr
    credentials.chmod(0o600)
    assert check(path).returncode == 0


def test_the_station_pages_password_and_home_assistants_credentials_are_read_as_the_services_read_them(tmp_path):
    page, ha = tmp_path / "page.password", tmp_path / "ha.credentials"
    web = f'[web]\nenabled = true\nlisten = "0.0.0.0:8081"\npassword_file = "{page}"\n'
    path = station(tmp_path, "# [web]\n", web + "# [web]\n")
    refused(check(path), path, f"station config: web.password_file: cannot read {page}: No such file or directory")
    page.write_text("let-me-in\n")
    page.chmod(0o600)
    assert check(path).returncode == 0
    bridge = f'[homeassistant]\nenabled = true\nurl = "mqtt://127.0.0.1:1884"\ncredentials_file = "{ha}"\n'
    path = station(tmp_path, "# [homeassistant]\n", bridge + "# [homeassistant]\n")
    result = check(path)
    assert result.returncode == 1 and f"homeassistant.credentials_file: cannot read {ha}" in result.stderr


def test_certificates_are_loaded_as_the_link_loads_them(tmp_path, pki):
    def with_files(cert: Path, key: Path) -> Path:
        files = f'url = "mqtts://broker.example.com:8883"\nca_file = "{pki.ca}"\ncert_file = "{cert}"\nkey_file = "{key}"'
        return station(tmp_path, STATION_URL, f"{files}\n#")

    missing = with_files(pki.directory / "missing.crt", pki.directory / "missing.key")
    refused(check(missing), missing, f"station config: mqtt.cert_file: {pki.directory / 'missing.crt'}: no such file")
    assert check(missing, "--no-files").returncode == 0, "--no-files: a skeleton before its files are installed"
    assert check(with_files(pki.cert("a"), pki.key("a"))).returncode == 0
    crossed = with_files(pki.cert("a"), pki.key("b"))
    assert "are not a PEM certificate and the private key that belongs to it" in check(crossed).stderr


def test_a_misspelt_station_section_is_still_checked_as_a_station(tmp_path):
    path = station(tmp_path, "[station]", "[stations]")
    refused(check(path), path, "station config: stations: unknown key (misspelt? a station config needs [station])")


def test_an_empty_file_is_no_config_whatever_kind_is_given(tmp_path):
    path = tmp_path / "collector.toml"
    path.write_text("# nothing yet\n")
    empty = "the file is empty: a station config needs [station], a collector config [mqtt] or [database]"
    refused(check(path), path, empty)
    assert check(path, "--collector").stderr.endswith(empty + "\n")


def test_a_directory_and_a_file_that_is_not_utf8_are_one_line_each(tmp_path):
    folder = tmp_path / "etc"
    folder.mkdir()
    refused(check(folder), folder, "is a directory, not a config file")
    latin = tmp_path / "latin1.toml"
    latin.write_bytes(STATION.replace("Oslo Sentrum", "Tromsø").encode("latin-1"))
    refused(check(latin), latin, f"not UTF-8 text (byte 0xf8 at offset {STATION.index('Oslo Sentrum') + 5}); "
            "a config file is TOML in UTF-8")


def test_the_output_says_which_kind_of_file_it_checked(tmp_path):
    ok = check(station(tmp_path))
    assert ok.returncode == 0 and "valid station config (it has [station]; checked as forecourt edge checks it" in ok.stdout
    collector = tmp_path / "collector.toml"
    collector.write_text(COLLECTOR)
    assert "valid collector config (it has [database], [followups], [http]" in check(collector).stdout


@pytest.mark.parametrize(("data", "kind"), [
    ({"station": {}}, "station"),
    ({"stations": {}, "mqtt": {}}, "station"),
    ({"mqtt": {}, "restrooms": []}, "station"),
    ({"mqtt": {}, "database": {}}, "collector"),
    ({"mqtt": {}}, "collector"),
])
def test_detect_reads_the_sections(data, kind):
    assert detect(data, "f.toml")[0] == kind


@pytest.mark.parametrize(("data", "message"), [
    ({}, "the file is empty"),
    ({"restrooms": [], "http": {}}, "it mixes station sections ([restrooms]) and collector sections ([http])"),
    ({"foo": {}}, "neither a station nor a collector config (it has [foo])"),
])
def test_detect_refuses_what_it_cannot_tell(data, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        detect(data, "f.toml")
