"""The systemd units: systemd itself accepts them, what they promise fits the program they start, and the
template for several collectors on one host keeps the single collector's hardening line for line."""

import shlex
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from cloud.config import DatabaseSettings
from edge.config import OutboxSettings
from forecourt.cli import build_parser
from tests.deploy_kit import INSTALL, REPO

UNITS = REPO / "systemd"
INSTALLED_BINARY = "/opt/forecourt/venv/bin/forecourt"
EDGE, COLLECTOR = "forecourt-edge.service", "forecourt-collector.service"
TEMPLATE = "forecourt-collector@.service"  # several collectors on one host, on one PostgreSQL
# What an instance of the template may say differently from forecourt-collector.service.
INSTANCE_LINES = {"Description", "After", "ExecStart", "EnvironmentFile"}


def unit_settings(name: str) -> dict[str, list[str]]:
    """``Key=value`` lines of a unit, every value of a key in order (Environment= may repeat)."""
    settings: defaultdict[str, list[str]] = defaultdict(list)
    for line in (UNITS / name).read_text().splitlines():
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings[key.strip()].append(value.strip())
    return dict(settings)


def one(settings: dict[str, list[str]], key: str) -> str:
    assert len(settings.get(key, [])) == 1, f"{key}= should be set exactly once"
    return settings[key][0]


@pytest.mark.parametrize("name", [EDGE, COLLECTOR, TEMPLATE])
def test_systemd_analyze_verify_accepts_the_unit(name, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing; sudo apt-get install -y systemd", pytrace=False)
    # verify checks that ExecStart's binary exists: point it at this checkout's forecourt, nothing else.
    here = Path(sys.executable).with_name("forecourt")
    text = (UNITS / name).read_text()
    assert INSTALLED_BINARY in text
    (tmp_path / name).write_text(text.replace(INSTALLED_BINARY, str(here)))
    done = subprocess.run([analyze, "verify", str(tmp_path / name)], capture_output=True, text=True, timeout=60)
    # Unknown keys and bad values are only warnings (exit 0); they count as failures here.
    assert (done.returncode, done.stderr.strip()) == (0, "")


@pytest.mark.parametrize(
    ("name", "extra"),
    [(EDGE, {"SupplementaryGroups": "gpio video", "Environment": "GPIOZERO_PIN_FACTORY=lgpio"}), (COLLECTOR, {}),
     (TEMPLATE, {})],
)
def test_unit_is_a_watched_hardened_notify_service(name, extra):
    settings = unit_settings(name)
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "Restart": "on-failure",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "StateDirectory": "forecourt",
        "User": "forecourt",
        "CapabilityBoundingSet": "",
        "WantedBy": "multi-user.target",
    }
    for key, value in expected.items():
        assert one(settings, key) == value, key
    for key, value in extra.items():
        assert value in settings[key], key
    watchdog = int(one(settings, "WatchdogSec"))
    assert 10 <= watchdog <= 120
    # ProtectSystem=strict leaves only the state directory writable: nothing may open another.
    assert "ReadWritePaths" not in settings


@pytest.mark.parametrize(("name", "command"), [(EDGE, "edge"), (COLLECTOR, "collector"), (TEMPLATE, "collector")])
def test_execstart_is_a_command_line_the_cli_accepts(name, command):
    argv = shlex.split(one(unit_settings(name), "ExecStart").replace("%i", "b"))
    assert argv[0] == INSTALLED_BINARY and argv[1] == command
    args = build_parser().parse_args(argv[1:])
    assert Path(args.config).parent == Path("/etc/forecourt")


def test_default_data_paths_are_inside_the_only_writable_directory():
    state = Path("/var/lib") / one(unit_settings(EDGE), "StateDirectory")
    assert OutboxSettings().path.parent == state
    assert DatabaseSettings().path.parent == Path("/var/lib") / one(unit_settings(COLLECTOR), "StateDirectory")


def test_install_guide_uses_the_paths_the_units_use():
    guide = INSTALL.read_text()
    for path in (INSTALLED_BINARY, "/etc/forecourt/station.toml", "/etc/forecourt/collector.toml", "/var/lib/forecourt",
                 "systemctl enable --now forecourt-edge", "systemctl enable --now forecourt-collector",
                 "journalctl -u forecourt-edge", "python3-lgpio",
                 "systemctl enable --now forecourt-collector@a forecourt-collector@b", f"systemd/{TEMPLATE}",
                 shlex.split(one(unit_settings(TEMPLATE), "ExecStart"))[-1].replace("%i", "b")):
        assert path in guide, path


def test_the_template_is_the_collector_unit_but_for_the_lines_that_name_its_instance():
    base, template = unit_settings(COLLECTOR), unit_settings(TEMPLATE)
    same = {k: v for k, v in base.items() if k not in INSTANCE_LINES}
    assert {k: v for k, v in template.items() if k not in INSTANCE_LINES} == same  # hardening, watchdog, restarts
    assert one(template, "ExecStart") == one(base, "ExecStart").replace("/collector.toml", "/collector-%i.toml")
    assert template["EnvironmentFile"] == [*base["EnvironmentFile"], "-/etc/default/forecourt-collector-%i"]
    assert one(template, "After").split() == [*one(base, "After").split(), "postgresql.service"]
    assert "%i" in one(template, "Description")
