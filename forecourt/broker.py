"""Mosquitto as Forecourt runs it: who may do what (the dynamic-security file), the config, and a process.

Used by the test harness, the demo and provisioning, so the rules that are tested are the rules that are
shipped (``systemd/mosquitto/forecourt-dynsec.json`` is :func:`dynsec_text` of no clients).

Why the dynamic-security plugin and not ``acl_file``: Mosquitto 2.0.11 checks an ``acl_file`` only when it
*delivers* a message, never on SUBSCRIBE. A station could subscribe to ``$share/forecourt/forecourt/v1/#``;
the broker then handed it every other message of every station, refused to deliver them and they were gone
(measured). The plugin answers "Not authorized" in the SUBACK instead. Its 2.0.11 ACLs do not expand
``%u``, so every station gets a role of its own with literal topics (:func:`station_role`).

Changing the file takes a broker *restart*: 2.0.11's plugin reads it once and ignores SIGHUP (measured).
No admin client is provisioned, so nobody can change the rules over MQTT (``$CONTROL/dynamic-security``)
and the file stays the one source of truth, which is also why the plugin never rewrites it.
Passwords are PBKDF2-SHA512 as ``mosquitto_ctrl`` writes them, so no external tool is needed.
"""

import base64
import contextlib
import glob
import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forecourt import children
from forecourt.errors import BrokerError, ConfigError
from forecourt.protocol import DOWNLINK, EVENT_KINDS, MAX_PAYLOAD_BYTES, ROOT

INSTALL_HINT = "install it with: sudo apt-get install -y mosquitto"
COLLECTOR_USER = "collector"
COLLECTOR_ROLE = "forecourt-collector"
STATION_ROLE_PREFIX = "forecourt-station-"
PBKDF2_ITERATIONS = 101  # mosquitto_ctrl's default; the passwords are 192 random bits, not words to guess
DYNSEC_PLUGIN = "mosquitto_dynamic_security.so"

# Sizes, queues and saving (docs/INSTALL.md, "Broker limits"). The shipped forecourt.conf repeats them; a test
# keeps both equal.
TUNING: dict[str, int] = {
    # Payload bytes, the same limit the codec enforces: 2.0.11 counts only the payload here (measured) and
    # answers an oversize PUBLISH with "Packet too large" in its PUBACK, dropping it.
    "message_size_limit": MAX_PAYLOAD_BYTES,
    # The whole packet: that payload plus room for the topic (at most ~100 bytes for a 64-character station
    # id), MQTT 5 properties and the fixed header. A bigger packet closes the connection before it is stored.
    "max_packet_size": MAX_PAYLOAD_BYTES + 1024,
    # Per client, beyond those in flight. Sized for a collector away for 10 minutes while the fleet sends
    # 1,000 events/s: 600,000 messages. Measured on 2.0.11: ~390 bytes of broker memory per queued message
    # besides its payload; events are 160-390 bytes, so a full queue holds ~0.4 GB, and the byte limit
    # (512 bytes a message) keeps fat payloads from making it more than ~0.55 GB. A full queue delays, and
    # loses nothing: stations keep every event until the collector confirms it stored it, and send it again.
    "max_queued_messages": 600_000,
    "max_queued_bytes": 600_000 * 512,
    # At least twice the collector's ingest.batch_size (2,000), so one batch fills while the last commits.
    # 2.0.11 also announces it to MQTT 5 clients as their Receive Maximum (measured): a station's
    # outbox.inflight (100) stays well inside it.
    "max_inflight_messages": 5_000,
    # The store is a cache now: stations hold the truth, so a crash that loses the last half hour of queue
    # costs resends, not events. Saving is synchronous and writes the whole store (up to the queue sizes
    # above, per client), so saving often would stall the broker when it holds the most. A clean stop or
    # restart always saves.
    "autosave_interval": 1800,
}
AUTOSAVE_ON_CHANGES = False  # with the interval above: save by time, never after N changes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> dict[str, Any]:
    """The ``password``, ``salt`` and ``iterations`` of a dynamic-security client (PBKDF2-SHA512)."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return {"password": _b64(digest), "salt": _b64(salt), "iterations": iterations}


def verify_password(password: str, hashed: Mapping[str, Any]) -> bool:
    salt = base64.b64decode(hashed["salt"])
    expected = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(hashed["iterations"]))
    return secrets.compare_digest(_b64(expected), hashed["password"])


def _acl(kind: str, topic: str) -> dict[str, Any]:
    return {"acltype": kind, "topic": topic, "priority": 0, "allow": True}


def station_role(station: str) -> dict[str, Any]:
    """What one station may do: publish its events, health and status; read its own downlink. Nothing else.

    Event kinds are listed, not ``event/+``: a station may retain what it publishes, and a wildcard would
    let it retain a message under as many invented kinds as it likes.
    """
    own = f"{ROOT}/{station}"
    send = [f"{own}/event/{kind}" for kind in sorted(EVENT_KINDS)] + [f"{own}/health", f"{own}/status"]
    acls = [_acl("publishClientSend", topic) for topic in send]
    for channel in DOWNLINK:
        acls += [_acl("subscribePattern", f"{own}/{channel}"), _acl("publishClientReceive", f"{own}/{channel}")]
    return {"rolename": f"{STATION_ROLE_PREFIX}{station}", "acls": acls}


def collector_role() -> dict[str, Any]:
    """Read every station, plainly or in any share group; write every station's downlink (ack, config)."""
    acls = [
        # 2.0.11 matches a shared subscription with its $share/<group>/ prefix (measured); + is any group.
        _acl("subscribePattern", f"{ROOT}/#"),
        _acl("subscribePattern", f"$share/+/{ROOT}/#"),
        _acl("publishClientReceive", f"{ROOT}/#"),
        *(_acl("publishClientSend", f"{ROOT}/+/{channel}") for channel in DOWNLINK),
    ]
    return {"rolename": COLLECTOR_ROLE, "acls": acls}


@dataclass(frozen=True)
class Client:
    """One MQTT user of the dynamic-security file: a station (its id is its username) or a collector."""

    username: str
    hashed: Mapping[str, Any]
    collector: bool = False


def dynsec_config(clients: Iterable[Client] = ()) -> dict[str, Any]:
    clients = sorted(clients, key=lambda c: c.username)
    entries = [
        {"username": c.username, **c.hashed,
         "roles": [{"rolename": COLLECTOR_ROLE if c.collector else f"{STATION_ROLE_PREFIX}{c.username}"}]}
        for c in clients
    ]
    return {
        # Deny by default: a client may publish, subscribe and receive only what a role of its own allows.
        "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False, "subscribe": False,
                             "unsubscribe": True},
        "clients": entries,
        "groups": [],
        "roles": [collector_role(), *(station_role(c.username) for c in clients if not c.collector)],
    }


def dynsec_text(clients: Iterable[Client] = ()) -> str:
    return json.dumps(dynsec_config(clients), indent=2) + "\n"


def read_clients(path: Path) -> dict[str, Client]:
    """username -> :class:`Client` of a dynamic-security file (empty if there is none yet)."""
    if not path.exists():
        return {}
    try:
        entries = json.loads(path.read_text()).get("clients", [])
        return {
            e["username"]: Client(
                e["username"], {k: e[k] for k in ("password", "salt", "iterations")},
                collector=any(r.get("rolename") == COLLECTOR_ROLE for r in e.get("roles", [])),
            )
            for e in entries
        }
    except (ValueError, KeyError, AttributeError, TypeError) as err:
        raise ConfigError(f"{path}: not a Forecourt dynamic-security file ({err})") from None


def write_clients(path: Path, passwords: Mapping[str, str], *, collectors: Iterable[str] = ()) -> None:
    """Set (add or replace) users' passwords, keeping the others; every role is written anew from the code.

    Users named in ``collectors`` are collectors, the others stations. A username never changes kind here:
    a station that took a collector's name could read the whole fleet. The file is created mode 0600.
    """
    clients = read_clients(path)
    collectors = set(collectors)
    for user, password in passwords.items():
        wanted = user in collectors
        if user in clients and clients[user].collector != wanted:
            was = "a collector" if clients[user].collector else "a station"
            raise ConfigError(f"{path}: {user!r} is already {was}; pick another name")
        clients[user] = Client(user, hash_password(password), collector=wanted)
    _write_private(path, dynsec_text(clients.values()))


def dynsec_plugin() -> Path:
    """Where Debian (any architecture) or a source build keeps the plugin."""
    for pattern in ("/usr/lib/*-linux-gnu/", "/usr/lib/", "/usr/lib/mosquitto/", "/usr/local/lib/"):
        found = sorted(glob.glob(pattern + DYNSEC_PLUGIN))
        if found:
            return Path(found[0])
    raise BrokerError(f"{DYNSEC_PLUGIN} not found; it comes with Debian's mosquitto package: {INSTALL_HINT}")


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path
    require_certificate: bool = False


def tuning_lines() -> list[str]:
    return [f"{key} {value}" for key, value in TUNING.items()] + [
        f"autosave_on_changes {'true' if AUTOSAVE_ON_CHANGES else 'false'}"
    ]


def listener_lines(listener: str) -> list[str]:
    """A listener with what 2.0.11 sets per listener (measured: before any listener, these open one on 1883)."""
    return [
        listener,
        # The broker replaces the client id with the username: nobody can take over another's session.
        "use_username_as_clientid true",
        # QoS 1 is the protocol; QoS 2 would let a client park unreleased messages in the broker.
        "max_qos 1",
    ]


def broker_conf(
    directory: Path, *, port: int, host: str = "127.0.0.1", tls: TlsFiles | None = None, tls_port: int | None = None
) -> str:
    directory = directory.resolve()
    lines = [
        "# Generated by Forecourt.",
        "per_listener_settings false",
        "allow_anonymous false",
        *tuning_lines(),
        "persistence true",
        f"persistence_location {directory}/",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "connection_messages true",
        f"log_dest file {directory / 'mosquitto.log'}",
        f"user {pwd.getpwuid(os.getuid()).pw_name}",
        *listener_lines(f"listener {port} {host}"),
    ]
    if tls is not None:
        lines += [
            *listener_lines(f"listener {tls_port} {host}"),
            f"cafile {tls.ca_file}",
            f"certfile {tls.cert_file}",
            f"keyfile {tls.key_file}",
            f"require_certificate {'true' if tls.require_certificate else 'false'}",
        ]
    # After the listeners: a plugin line before any listener makes 2.0.11 open a default one on 1883.
    lines += [f"plugin {dynsec_plugin()}", f"plugin_opt_config_file {directory / 'dynsec.json'}"]
    return "\n".join(lines) + "\n"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise BrokerError(f"nothing is listening on {host}:{port} after {timeout:.0f} s") from None
            time.sleep(0.05)


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically: a crash mid-write must not cost every other station its password.

    A file that exists keeps its owner, group and mode (minus any world bits): Mosquitto 2.0 reads the
    dynamic-security file as the ``mosquitto`` user, so a rewrite by root must not lock it out. A new file is 0600.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        old = path.stat()
    except FileNotFoundError:
        old = None
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if old is not None:
            with contextlib.suppress(PermissionError):  # only root may give a file away
                os.chown(temp, old.st_uid, old.st_gid)
        os.chmod(temp, (old.st_mode & 0o770) if old is not None else 0o600)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


class Mosquitto:
    """A private Mosquitto on a free loopback port, with the Forecourt rules; users not in ``collectors``
    are stations.

    >>> with Mosquitto(tmp_path, users={"collector": "pw", "a": "pw-a"}) as broker:
    ...     broker.url  # 'mqtt://127.0.0.1:<port>'
    """

    def __init__(
        self,
        directory: Path,
        *,
        users: Mapping[str, str],
        collectors: Iterable[str] = (COLLECTOR_USER,),
        port: int | None = None,
        host: str = "127.0.0.1",
        tls: TlsFiles | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self.die_with_parent = die_with_parent
        self.binary = shutil.which("mosquitto") or next(
            (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
        )
        if self.binary is None:
            raise BrokerError(f"mosquitto is not installed; {INSTALL_HINT}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or free_port(host)
        self.tls_port = free_port(host) if tls else None
        self.users = dict(users)
        self.collectors = frozenset(collectors)
        write_clients(self.dynsec_file, self.users, collectors=self.collectors)
        conf = broker_conf(self.directory, port=self.port, host=host, tls=tls, tls_port=self.tls_port)
        _write_private(self.directory / "mosquitto.conf", conf)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def dynsec_file(self) -> Path:
        return self.directory / "dynsec.json"

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.poll() is None else None

    @property
    def log(self) -> str:
        path = self.directory / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, timeout: float = 10.0) -> "Mosquitto":
        if self.process and self.process.poll() is None:
            return self
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.directory / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=open(self.directory / "stderr.log", "ab"),  # noqa: SIM115 - lives with the process
            start_new_session=True,
            preexec_fn=children.die_with_parent() if self.die_with_parent else None,
        )
        try:
            wait_for_port(self.host, self.port, timeout)
        except BrokerError:
            self.stop()
            err = (self.directory / "stderr.log").read_text(errors="replace")
            raise BrokerError(f"mosquitto did not start on {self.host}:{self.port}: {err[-800:]}{self.log[-800:]}") from None
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: Mosquitto saves its store (sessions, queues, retained messages) and exits."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self.process = None

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL, as a crash or the OOM killer would: whatever changed since the last autosave is gone."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def add_users(self, users: Mapping[str, str], *, collectors: Iterable[str] = ()) -> None:
        """Add or change passwords (``collectors`` among them are collectors, the rest stations).

        A running broker is restarted, as ``forecourt provision`` tells operators to: the 2.0.11 plugin
        rereads its file only then. Sessions and queues survive (a clean stop saves them); connections do not.
        """
        collectors = set(collectors)
        self.collectors |= collectors
        write_clients(self.dynsec_file, users, collectors=collectors | (self.collectors & set(users)))
        self.users.update(users)
        if self.process and self.process.poll() is None:
            self.restart()

    def __enter__(self) -> "Mosquitto":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.stop()
