"""What the deploy tests run against: the shipped Mosquitto config and the certificates that
docs/INSTALL.md tells an operator to make, both rendered into a temp dir with loopback ports.

Nothing here is a re-statement of the shipped files: the config and the openssl commands are read
from systemd/ and docs/ so a change there is what the tests exercise.
"""

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from forecourt.broker import Mosquitto, dynsec_plugin, free_port
from forecourt.dynsec import write_clients

REPO = Path(__file__).resolve().parents[1]
SHIPPED_CONF = REPO / "systemd" / "mosquitto" / "forecourt.conf"
SHIPPED_DYNSEC = REPO / "systemd" / "mosquitto" / "forecourt-dynsec.json"
SHIPPED_DROP_IN = REPO / "systemd" / "mosquitto.service.d" / "forecourt.conf"
INSTALL = REPO / "docs" / "INSTALL.md"
CERTS_MARKER = "<!-- tested: tests/test_deploy_tls.py"
# "observer" is a second collector-class user: tests watch the broker without taking over the collector's
# connection (the broker uses the username as client id).
STATIONS = {"collector": "collector-secret", "observer": "observer-secret", "a": "secret-a", "b": "secret-b"}
COLLECTORS = ("collector", "observer")


def doc_block(marker: str = CERTS_MARKER, doc: Path = INSTALL) -> str:
    """The first fenced code block after ``marker`` in ``doc``."""
    text = doc.read_text()
    at = text.index(marker)
    match = re.compile(r"```\w*\n(.*?)```", re.S).search(text, at)
    assert match, f"no code block after {marker!r} in {doc}"
    return match.group(1)


def _replace(text: str, old: str, new: str, source: Path = INSTALL) -> str:
    assert old in text, f"{source.relative_to(REPO)} no longer contains {old.strip()!r}; update tests/deploy_kit.py"
    return text.replace(old, new)


@dataclass(frozen=True)
class Pki:
    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    def cert(self, name: str) -> Path:
        return self.directory / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.directory / f"{name}.key"


def issue_certificates(directory: Path, clients: tuple[str, ...] = ("a", "b")) -> Pki:
    """Run the certificate block of docs/INSTALL.md for a broker at 127.0.0.1 and these clients."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed; sudo apt-get install -y openssl", pytrace=False)
    script = doc_block()
    script = _replace(script, 'BROKER_SAN="DNS:mqtt.example.com"', 'BROKER_SAN="IP:127.0.0.1"')
    script = _replace(script, "issue_client oslo-sentrum-01\n", "".join(f"issue_client {c}\n" for c in clients))
    directory.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=directory, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, f"the certificate steps of docs/INSTALL.md failed:\n{done.stderr}"
    return Pki(directory)


def render_shipped_conf(*, directory: Path, port: int, tls_port: int, pki: Pki) -> str:
    """systemd/mosquitto/forecourt.conf with its paths and ports moved into ``directory`` and loopback."""
    text = SHIPPED_CONF.read_text()
    for old, new in {
        "/etc/mosquitto/forecourt-dynsec.json": directory / "dynsec.json",
        "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so": dynsec_plugin(),
        "/etc/mosquitto/ca_certificates/forecourt-ca.crt": pki.ca,
        "/etc/mosquitto/certs/broker.crt": pki.cert("broker"),
        "/etc/mosquitto/certs/broker.key": pki.key("broker"),
        "\nlistener 1883 127.0.0.1\n": f"\nlistener {port} 127.0.0.1\n",
        "\nlistener 8883\n": f"\nlistener {tls_port} 127.0.0.1\n",
    }.items():
        text = _replace(text, old, str(new), SHIPPED_CONF)
    settings = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    leftover = re.findall(r"/etc/\S+|\blistener 1883\b|\blistener 8883\b", settings)
    assert not leftover, f"the shipped config names {leftover}; teach render_shipped_conf about them"
    return text


class ShippedBroker(Mosquitto):
    """A real Mosquitto laid out as Debian's: a main config that includes conf.d/forecourt.conf (the
    shipped file, rendered) and the shipped dynamic-security file with the users added as `forecourt
    provision` adds them. ``port`` is the loopback listener, ``tls_port`` the stations' TLS listener."""

    def __init__(
        self, directory: Path, *, pki: Pki, users: dict[str, str] | None = None, collectors: tuple[str, ...] = COLLECTORS
    ) -> None:
        users = dict(STATIONS if users is None else users)
        super().__init__(directory, users=users, collectors=collectors)
        self.pki = pki
        self.tls_port = free_port(self.host)
        shutil.copyfile(SHIPPED_DYNSEC, self.dynsec_file)
        write_clients(self.dynsec_file, users, collectors=collectors)
        conf_d = self.directory / "conf.d"
        conf_d.mkdir(exist_ok=True)
        (conf_d / "forecourt.conf").write_text(
            render_shipped_conf(directory=self.directory, port=self.port, tls_port=self.tls_port, pki=pki)
        )
        main = (self.directory / "mosquitto.conf").read_text()
        # Keep the harness's own lines that Debian's mosquitto.conf would provide (user, persistence,
        # logging) and let the shipped file supply everything Forecourt needs.
        debian = [line for line in main.splitlines() if line.split(" ")[0] in {"user", "persistence", "persistence_location", "log_dest", "log_type"}]
        (self.directory / "mosquitto.conf").write_text("\n".join([*debian, f"include_dir {conf_d}", ""]))


@pytest.fixture(scope="session", name="pki")
def pki_fixture(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The chain's CA, the broker's certificate and client certificates for a, b and the collector."""
    return issue_certificates(tmp_path_factory.mktemp("pki"), clients=("a", "b", "collector"))


@pytest.fixture(scope="session", name="rogue_pki")
def rogue_pki_fixture(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Someone else's CA, issuing certificates with the very same names."""
    return issue_certificates(tmp_path_factory.mktemp("rogue-pki"), clients=("a",))


@pytest.fixture(name="shipped")
def shipped_fixture(tmp_path: Path, pki: Pki):
    """A running Mosquitto with the shipped config, users collector/observer/a/b (passwords in ``.users``)."""
    with ShippedBroker(tmp_path / "broker", pki=pki) as broker:
        yield broker
