"""docs/INSTALL.md followed as written, on a copy of the source: step 3 builds the wheel with nothing but
the virtualenv's pip and provisions the collector and a station; step 5 registers that station (name and
region from its provisioning) and adds a dashboard user. Only what needs root or the real broker is
left out (adduser, the venv in /opt, restarting Mosquitto) or pointed at a temporary directory.

"HQ on PostgreSQL with two collectors" likewise, on the suite's real PostgreSQL with the guide's SCRAM rule:
role and database, ~/.pgpass, `db migrate`, a site moved from the SQLite file with `db copy`, and the nightly
dump restored into a scratch database; its collector TOML loads as the collector loads it. The regional
bridge of "the broker past one host" runs between two real Mosquittos with the shipped config. Every
`forecourt` command line in the guide is one the CLI parses."""

import os
import re
import secrets
import shlex
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from cloud.config import load_collector_config
from forecourt.cli import build_parser
from tests.deploy_kit import INSTALL, REPO, ShippedBroker, doc_block, pki_fixture  # noqa: F401
from tests.mqtt import Recorder, publish
from tests.waiting import wait_until

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


# HQ on PostgreSQL with two collectors, and the broker past one host.

PG_HOST = "<!-- tested: tests/test_install_guide.py runs this block (but apt-get) on a private PostgreSQL"
PG_CLIENT = "<!-- tested: tests/test_install_guide.py runs this block (but pip) after the one above"
PG_MOVE = "<!-- tested: tests/test_install_guide.py runs this block (but systemctl and sudoedit)"
PG_BACKUP = "<!-- tested: tests/test_install_guide.py runs this block on its private PostgreSQL"
PG_TOML = "<!-- tested: tests/test_install_guide.py loads this file as the collector does"
BRIDGE = "<!-- tested: tests/test_install_guide.py runs a central and a regional broker with this bridge"
# What a test cannot do as written: install packages, manage services, open an editor.
NOT_HERE = ("sudo apt-get ", "sudo /opt/forecourt/venv/bin/pip ", "sudo systemctl ", "sudoedit ")
# The guide's role may log in from 127.0.0.1 only with its SCRAM password, as on Debian; the suite's own
# connections (as postgres) stay trusted. Prepended: the first line that matches decides.
GUIDE_HBA = "host forecourt forecourt 127.0.0.1/32 scram-sha-256\n"


def forecourt_argv(text: str) -> list[list[str]]:
    """The arguments of every `.../bin/forecourt ...` command in the sh blocks of ``text``, with the blocks'
    own variables (``F="..."``, ``C="..."``) expanded."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        variables: dict[str, str] = {}
        for line in block.replace("\\\n", " ").splitlines():
            if assigned := re.fullmatch(r'(\w+)="([^"$]*)"', line.strip()):
                variables[assigned[1]] = assigned[2]
                continue
            for name, value in variables.items():
                line = re.sub(rf"\${name}\b", value, line)
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            tokens = list(lexer)
            for at, token in enumerate(tokens):
                if token.endswith("/bin/forecourt"):
                    argv = []
                    for word in tokens[at + 1:]:
                        if word in {"|", "||", "&&", ";", "<", ">", ">>", "&"}:
                            break
                        argv.append(word)
                    found.append(argv)
    return found


def test_every_forecourt_command_in_the_guide_is_one_the_cli_accepts():
    commands = forecourt_argv(INSTALL.read_text())
    assert ["db", "copy", "/var/lib/forecourt/collector.db", "postgresql://forecourt@127.0.0.1/forecourt"] in commands
    parser = build_parser()
    for argv in commands:
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"`forecourt {' '.join(argv)}` in docs/INSTALL.md is refused by the CLI")


def test_the_guides_postgresql_config_loads_as_the_collector_loads_it(tmp_path):
    path = tmp_path / "collector-b.toml"
    path.write_text(doc_block(PG_TOML))
    config = load_collector_config(path)
    assert config.database.target == "postgresql://forecourt@127.0.0.1/forecourt"
    assert "@" in config.database.url and ":" not in config.database.url.split("//")[1].split("@")[0]  # no password
    mqtt = config.mqtt
    assert (mqtt.username, mqtt.session_id, mqtt.share_group) == ("collector-b", "collector-b", "forecourt")
    assert str(config.mqtt.credentials_file) == "/etc/forecourt/collector-b.credentials"
    assert config.http.listen == "127.0.0.1:8081"


def test_the_postgresql_extra_the_guide_installs_is_the_one_pyproject_defines():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    named = set(re.findall(r"forecourt-[\w.]+-py3-none-any\.whl\[(\w+)\]", INSTALL.read_text()))
    assert named == {"postgresql"} and any(dep.startswith("psycopg[") for dep in extras["postgresql"])


def on_test_server(block: str, *, home: Path, var_lib: Path, backups: Path, collector_toml: Path) -> str:
    """A block of the PostgreSQL section as this test runs it: no sudo (``sudo -u forecourt`` becomes that
    user's HOME), this checkout's venv, the test's directories, the database on 127.0.0.1 (port: PGPORT)."""
    lines = [line for line in block.splitlines() if not line.startswith(NOT_HERE)]
    script = "\n".join(lines) + "\n"
    for old, new in {
        "sudo -u postgres ": "",
        "sudo -u forecourt ": f"env HOME={var_lib} ",
        "-o forecourt -g forecourt ": "",
        "-o postgres -g postgres ": "",
        "sudo ": "",
        "/opt/forecourt/venv/bin/": f"{BIN}/",
        "/var/lib/forecourt": str(var_lib),
        "/var/backups/forecourt-pg": str(backups),
        "/etc/forecourt/collector.toml": str(collector_toml),
        "db.example.com": "127.0.0.1",
    }.items():
        script = script.replace(old, new)
    assert "sudo" not in script and "/etc/" not in script, script
    return script


@pytest.fixture
def guide_server(postgres_server):
    """The suite's PostgreSQL with the guide's authentication rule in front; the guide's role and
    databases, and the rule, are gone afterwards."""
    import psycopg

    hba = postgres_server.data_dir / "pg_hba.conf"
    original = hba.read_text()

    def reload(text: str) -> None:
        hba.write_text(text)
        with psycopg.connect(postgres_server.url, autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")

    reload(GUIDE_HBA + original)
    try:
        yield postgres_server
    finally:
        reload(original)
        with psycopg.connect(postgres_server.url, autocommit=True) as conn:
            for database in ("forecourt", "forecourt_check"):
                conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            conn.execute("DROP ROLE IF EXISTS forecourt")


def test_the_guides_postgresql_steps_create_migrate_move_and_back_up_a_site(guide_server, tmp_path):
    import psycopg

    home, var_lib, backups = tmp_path / "admin", tmp_path / "var-lib-forecourt", tmp_path / "backups"
    (home / "forecourt").mkdir(parents=True)
    collector_toml = tmp_path / "collector.toml"
    places = {"home": home, "var_lib": var_lib, "backups": backups, "collector_toml": collector_toml}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "FORECOURT_"))}
    env.update(HOME=str(home), PATH=f"{guide_server.bindir}:{env['PATH']}",
               PGHOST="127.0.0.1", PGPORT=str(guide_server.port), PGUSER="postgres")
    password = secrets.token_hex(12)

    def run_block(marker: str, stdin: str = "") -> subprocess.CompletedProcess:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", on_test_server(doc_block(marker), **places)],
                              input=stdin, capture_output=True, text=True, timeout=180, env=env, cwd=home,
                              start_new_session=True)  # no terminal: createuser reads the password from stdin
        assert done.returncode == 0, f"{marker}\n{done.stdout}\n{done.stderr}"
        return done

    run_block(PG_HOST, stdin=f"{password}\n{password}\n")
    client = run_block(PG_CLIENT, stdin=f"{password}\n")
    pgpass = var_lib / ".pgpass"
    assert stat.S_IMODE(pgpass.stat().st_mode) == 0o600
    assert pgpass.read_text() == f"127.0.0.1:*:forecourt:forecourt:{password}\n"
    status = [line for line in client.stdout.splitlines() if line]  # but the `echo` after the password
    assert status and all(line.startswith("applied\t") for line in status), client.stdout
    url = f"postgresql://forecourt@127.0.0.1:{guide_server.port}/forecourt"
    with pytest.raises(psycopg.OperationalError, match="password"):  # the rule holds: no .pgpass, no entry
        psycopg.connect(url, connect_timeout=10, passfile=str(tmp_path / "none")).close()

    # A site on the SQLite file, as steps 4 and 5 leave it; then moved as the guide says.
    sqlite_db = var_lib / "collector.db"
    registry = "id,name,region,timezone\noslo-sentrum-01,Oslo Sentrum,east/oslo/sentrum,Europe/Oslo\n"
    subprocess.run([BIN / "forecourt", "stations", "import", "-", "--database", sqlite_db], input=registry,
                   capture_output=True, text=True, check=True, env=env, timeout=60)
    collector_toml.write_text('[mqtt]\nurl = "mqtt://127.0.0.1:1883"\n\n'  # the config after the guide's sudoedit
                              '[database]\nurl = "postgresql://forecourt@127.0.0.1/forecourt"\n')
    moved = run_block(PG_MOVE)
    assert "stations\t1" in moved.stdout.splitlines()
    assert moved.stdout.splitlines()[-1].startswith("oslo-sentrum-01\tOslo Sentrum\teast/oslo/sentrum\t")

    backed_up = run_block(PG_BACKUP)
    assert list(backups.glob("forecourt-*.dump"))
    restored = backed_up.stdout.splitlines()
    assert restored == status, "the restored copy has every migration the original has"


def test_the_guides_bridge_carries_the_stations_topics_both_ways(tmp_path, pki):
    regional = ShippedBroker(tmp_path / "north", pki=pki, users={"a": "secret-a", "hq-bridge": "bridge-secret"},
                             collectors=("hq-bridge",))  # as `forecourt provision collector --username hq-bridge`
    central = ShippedBroker(tmp_path / "central", pki=pki, users={"collector": "c-secret", "observer": "o-secret"})
    conf = doc_block(BRIDGE)
    for old, new in {
        "address mqtt-north.example.com:8883": f"address 127.0.0.1:{regional.tls_port}",
        "remote_password PASSWORD-FROM-hq-bridge/collector.credentials": "remote_password bridge-secret",
        "/etc/mosquitto/ca_certificates/forecourt-ca.crt": str(pki.ca),
        "/etc/mosquitto/certs/hq-bridge.crt": str(pki.cert("collector")),  # any client certificate of the chain
        "/etc/mosquitto/certs/hq-bridge.key": str(pki.key("collector")),
    }.items():
        assert old in conf, old
        conf = conf.replace(old, new)
    assert "/etc/" not in conf
    (central.directory / "conf.d" / "bridge-north.conf").write_text(conf)
    with regional, central:
        state = Recorder(central, "$SYS/broker/connection/hq-bridge/state")
        assert state.wait_for(lambda m: (m[-1][1] if m else b"") == b"1"), central.log[-2000:]
        collector = Recorder(central, "$share/forecourt/forecourt/v1/+/event/+", username="collector")
        station = Recorder(regional, "forecourt/v1/a/ack", username="a")
        station.client.subscribe("forecourt/v1/a/config", qos=1)
        # In: an event reaches the collectors' share group on the central broker (sent again until the
        # bridge's subscriptions on the regional broker are in place).
        publish(station.client, "forecourt/v1/a/status", b"online", retain=True)
        assert wait_until(lambda: publish(station.client, "forecourt/v1/a/event/rating", b"e") or
                          collector.wait_for(lambda m: ("forecourt/v1/a/event/rating", b"e", False) in m, 0.5), 10)
        # Out: HQ's storage acknowledgement and settings reach the station at its own broker.
        assert wait_until(lambda: publish(collector.client, "forecourt/v1/a/ack", b"ack") or
                          station.wait_for(lambda m: ("forecourt/v1/a/ack", b"ack", False) in m, 0.5), 10)
        publish(collector.client, "forecourt/v1/a/config", b"settings", retain=True)
        assert station.wait_for(lambda m: ("forecourt/v1/a/config", b"settings", False) in m)
        station.close()
        # Retained across the bridge both ways: a station connecting later gets HQ's settings, a collector
        # starting later gets the station's status.
        later = Recorder(regional, "forecourt/v1/a/config", username="a")
        assert later.wait_for(lambda m: ("forecourt/v1/a/config", b"settings", True) in m)
        status = Recorder(central, "forecourt/v1/+/status")
        assert status.wait_for(lambda m: ("forecourt/v1/a/status", b"online", True) in m)
        for recorder in (later, status, collector, state):
            recorder.close()
