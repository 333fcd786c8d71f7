"""docs/INSTALL.md followed as written, on a copy of the source: step 3 builds the wheel with nothing but
the virtualenv's pip and provisions the collector and a station; step 5 registers that station (name and
region from its provisioning) and adds a dashboard user. Only what needs root or the real broker is
left out (adduser, the venv in /opt, restarting Mosquitto) or pointed at a temporary directory."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy_kit import INSTALL, REPO, doc_block

BIN = Path(sys.executable).parent
STEP_3 = "<!-- tested: tests/test_install_guide.py runs this block"
STEP_5 = "<!-- tested: tests/test_install_guide.py, after step 3's block"
SKIPPED = ("sudo adduser ", "sudo python3 -m venv ", "sudo systemctl restart mosquitto")


def as_here(block: str, home: Path, *, provisions: int = 0) -> str:
    """The block with this checkout's virtualenv for /opt/forecourt/venv and without sudo."""
    lines = [line for line in block.splitlines() if not line.startswith(SKIPPED)]
    script = "\n".join(lines)
    script = script.replace("sudo -u forecourt ", "").replace("sudo ", "")
    script = script.replace("/opt/forecourt/venv/bin/pip install dist/", "test -f dist/")  # this venv has the source
    script = script.replace("/opt/forecourt/venv/bin/", f"{BIN}/")
    script, found = re.subn(r"provision (collector|station \S+)", rf'provision \1 --dynsec "{home}/dynsec.json"', script)
    assert found == provisions, f"the block provisions {provisions} clients"
    return script.replace("/etc/forecourt/collector.toml", f"{home}/forecourt-hq/collector/collector.toml")


def run(script: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home), "FORECOURT_DATABASE": str(home / "collector.db"),
           "PIP_CACHE_DIR": str(Path.home() / ".cache" / "pip")}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A home with ~/forecourt (the tracked files of this checkout) and an empty ~/forecourt-hq."""
    home = tmp_path_factory.mktemp("home")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            target = home / "forecourt" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (home / "forecourt-hq").mkdir(mode=0o700)
    return home


@pytest.fixture(scope="module")
def step_3(home) -> subprocess.CompletedProcess:
    return run(as_here(doc_block(STEP_3), home, provisions=2), home)  # the collector and one station


def test_step_3_builds_the_wheel_quietly_with_only_the_venvs_pip(step_3, home):
    assert step_3.returncode == 0, step_3.stderr
    assert (home / "forecourt" / "dist" / "forecourt-0.1.0-py3-none-any.whl").is_file()
    noise = [line for line in step_3.stderr.splitlines() if re.search(r"BuildBackendWarning|SetuptoolsDeprecationWarning|deprecated", line)]
    assert noise == [], "setuptools has nothing to warn about in pyproject.toml"


def test_step_3_provisions_and_step_5_registers_the_station_and_a_user(step_3, home):
    assert step_3.returncode == 0, step_3.stderr
    registry = home / "forecourt-hq" / "stations.csv"
    assert registry.read_text() == "id,name,region,timezone\noslo-sentrum-01,Oslo Sentrum,east/oslo/sentrum,Europe/Oslo\n"
    step_5 = run(as_here(doc_block(STEP_5), home), home)
    assert step_5.returncode == 0, step_5.stderr
    out = step_5.stdout.splitlines()
    assert out[0] == "imported 1 station(s) from standard input"
    assert out[1] == "oslo-sentrum-01\tOslo Sentrum\teast/oslo/sentrum\tunknown\t0"
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", out[2]), "users add prints the token"


def test_the_guide_names_no_tool_it_does_not_install():
    guide = INSTALL.read_text()
    assert "python3 -m build" not in guide, "the `build` package is installed by nothing in the guide"
    blocks = re.findall(r"```sh\n(.*?)```", guide, re.S)
    assert any("stations import" in b for b in blocks) and any("users add" in b for b in blocks)
