"""Who may do what on the broker: Mosquitto's dynamic-security document, generated from the station list.

Why the plugin and not ``acl_file``: Mosquitto 2.0.11 checks an ``acl_file`` only when it *delivers* a
message, never on SUBSCRIBE, so a station could join ``$share/forecourt/forecourt/v1/#`` and make the broker
discard half of every other station's events (measured). The plugin answers "Not authorized" in the SUBACK.
Its 2.0.11 ACLs do not expand ``%u``, so every station gets a role of its own with literal topics
(:func:`station_role`). Passwords are PBKDF2-SHA512 as ``mosquitto_ctrl`` writes them, so no external tool
is needed. The shipped ``systemd/mosquitto/forecourt-dynsec.json`` is :func:`dynsec_text` of no clients.
"""

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forecourt.errors import ConfigError
from forecourt.files import write_private
from forecourt.protocol import DOWNLINK, EVENT_KINDS, ROOT, UPLINK

COLLECTOR_USER = "collector"
COLLECTOR_ROLE = "forecourt-collector"
STATION_ROLE_PREFIX = "forecourt-station-"
SYS_BROKER = "$SYS/broker/#"  # the broker's counters: read-only figures, no station data
PBKDF2_ITERATIONS = 101  # mosquitto_ctrl's default; the passwords are 192 random bits, not words to guess


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
    send = [f"{own}/event/{kind}" for kind in sorted(EVENT_KINDS)] + [
        f"{own}/{channel}" for channel in UPLINK if channel != "event"
    ]
    acls = [_acl("publishClientSend", topic) for topic in send]
    for channel in DOWNLINK:
        acls += [_acl("subscribePattern", f"{own}/{channel}"), _acl("publishClientReceive", f"{own}/{channel}")]
    return {"rolename": f"{STATION_ROLE_PREFIX}{station}", "acls": acls}


def collector_role() -> dict[str, Any]:
    """Read every station, plainly or in any share group; write every station's downlink (ack, config);
    read the broker's own figures under ``$SYS/broker/`` for the collector's /metrics (cloud/broker_sys.py)."""
    acls = [
        # 2.0.11 matches a shared subscription with its $share/<group>/ prefix (measured); + is any group.
        _acl("subscribePattern", f"{ROOT}/#"),
        _acl("subscribePattern", f"$share/+/{ROOT}/#"),
        _acl("publishClientReceive", f"{ROOT}/#"),
        *(_acl("publishClientSend", f"{ROOT}/+/{channel}") for channel in DOWNLINK),
        _acl("subscribePattern", SYS_BROKER),
        _acl("publishClientReceive", SYS_BROKER),
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
    write_private(path, dynsec_text(clients.values()))
