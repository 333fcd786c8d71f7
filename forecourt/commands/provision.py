"""Create the credentials and a config skeleton for a station or for the collector.

``forecourt provision station ID --region PATH`` picks a random password, adds the station to the broker's
dynamic-security file (its password hash and a role that lets it publish and read only its own topics;
see forecourt.broker), and writes ``station.toml`` and ``credentials`` (``username:password``, mode 0600)
into ``--out``. Copy both to ``/etc/forecourt/`` on the station; ``forecourt check-config`` passes the
skeleton once the files it names are there (``--no-files`` before). ``forecourt provision collector
[--username NAME]`` does the same for a collector's MQTT user. ``forecourt provision roles`` rewrites every
role from this version's code, keeping the passwords: after an upgrade that adds an event kind, which the
broker refuses from a station until its role lists it.

The station's name, region and time zone also go into a registry CSV (``--registry``, default
``stations.csv`` beside ``--out``; one row per station, rewritten when provisioned again): the station's own messages
carry none of them, so HQ learns them from ``forecourt stations import - < stations.csv``.

Mosquitto 2.0.11 reads that file only when it starts: ``systemctl restart mosquitto`` afterwards (once for
a day's batch of stations). Every client reconnects; stations keep their events until HQ stored them.
"""

import argparse
import csv
import io
import json
import os
import re
import secrets
import tomllib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from forecourt.dynsec import COLLECTOR_USER, read_clients, write_clients
from forecourt.errors import ConfigError, ProtocolError
from forecourt.protocol import check_station_id
from forecourt.settings import validate

DEFAULT_DYNSEC = Path("/etc/mosquitto/forecourt-dynsec.json")
DEFAULT_ETC = Path("/etc/forecourt")
REGISTRY_NAME = "stations.csv"  # beside the stations' folders unless --registry says otherwise
REGISTRY_COLUMNS = ("id", "name", "region", "timezone")  # what `forecourt stations import` reads
STATION_BROKER = "mqtts://mqtt.example.com:8883"
COLLECTOR_BROKER = "mqtt://127.0.0.1:1883"  # the loopback listener of systemd/mosquitto/forecourt.conf
PASSWORD_BYTES = 24  # 192 bits; token_urlsafe never yields ':' so the credentials file stays parseable
_REGION = re.compile(r"[^/\s](?:[^/]*[^/\s])?(?:/[^/\s](?:[^/]*[^/\s])?)*")


@dataclass(frozen=True)
class Provisioned:
    """What ``provision_*`` wrote; ``password`` is the only copy outside the credentials file."""

    username: str
    password: str
    config_file: Path
    credentials_file: Path
    dynsec_file: Path
    registry_file: Path | None = None  # stations only: the CSV row HQ imports


def toml_string(value: str) -> str:
    # A JSON string is a valid TOML basic string (same escapes; \uXXXX for control characters).
    return json.dumps(value, ensure_ascii=False)


def check_region(region: str) -> str:
    if not _REGION.fullmatch(region):
        raise ConfigError(f"--region {region!r} must be a path of non-empty names such as 'east/oslo/sentrum'")
    return region


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"--timezone {name!r} is not an IANA time zone such as 'Europe/Oslo' or 'UTC'") from None
    return name


def station_user(station_id: str, dynsec: Path | None = None) -> str:
    """The MQTT username of a station: its id, which must pass the protocol's check and name no collector."""
    try:
        check_station_id(station_id)
    except ProtocolError as err:
        raise ConfigError(str(err)) from None
    if station_id == COLLECTOR_USER:
        raise ConfigError(f"station id {station_id!r} is reserved for the collector's MQTT user")
    if dynsec is not None and getattr(read_clients(dynsec).get(station_id), "collector", False):
        raise ConfigError(f"station id {station_id!r} is a collector's MQTT user in {dynsec}")
    return station_id


def collector_user(username: str) -> str:
    """A collector's MQTT username: the same alphabet as station ids (it is a client id too)."""
    try:
        return check_station_id(username)
    except ProtocolError as err:
        raise ConfigError(str(err).replace("station id", "collector username")) from None


def _mqtt_lines(broker_url: str, credentials: Path, etc: Path, client_name: str) -> list[str]:
    lines = [
        "[mqtt]",
        f"url = {toml_string(broker_url)}",
        f"credentials_file = {toml_string(str(credentials))}   # username:password, mode 0600",
    ]
    if broker_url.startswith("mqtts://"):
        # The shipped broker config requires a client certificate on its TLS listener (docs/INSTALL.md).
        lines += [
            f"ca_file = {toml_string(str(etc / 'ca.crt'))}",
            f"cert_file = {toml_string(str(etc / f'{client_name}.crt'))}",
            f"key_file = {toml_string(str(etc / f'{client_name}.key'))}",
        ]
    return lines


def station_config_text(
    station_id: str, *, region: str, name: str, timezone: str, broker_url: str, etc: Path, written: datetime
) -> str:
    lines = [
        f"# Forecourt station {station_id}, written by `forecourt provision` on {written:%Y-%m-%d}.",
        f"# Check it with: forecourt check-config {etc / 'station.toml'}",
        "# Every key is described in edge/config.py; examples/station.toml shows a complete station.",
        "",
        "[station]",
        f"id = {toml_string(station_id)}   # also its MQTT username",
        f"name = {toml_string(name)}",
        f"region = {toml_string(region)}",
        f"timezone = {toml_string(timezone)}",
        "",
        *_mqtt_lines(broker_url, etc / "credentials", etc, "station"),
        "",
        "[outbox]",
        'path = "/var/lib/forecourt/outbox.db"   # the StateDirectory of forecourt-edge.service',
        "",
        "# Describe this station's hardware below (see examples/station.toml), then check the file again:",
        "# [[restrooms]]",
        '# id = "ladies"',
        "# button_pin = 5",
        "#",
        "# [[kiosks]]",
        '# id = "shop-counter"',
        '# location = "shop"',
        "# scale = 3",
        "# buttons = [20, 21, 16]",
        "#",
        "# [camera]",
        '# source = "rtsp://192.168.1.64:554/stream2"   # or "0" for /dev/video0',
        "",
    ]
    return "\n".join(lines)


def collector_config_text(*, broker_url: str, etc: Path, written: datetime, username: str = COLLECTOR_USER) -> str:
    lines = [
        f"# Forecourt collector, written by `forecourt provision collector` on {written:%Y-%m-%d}.",
        f"# Check it with: forecourt check-config --collector {etc / 'collector.toml'}",
        "",
        *_mqtt_lines(broker_url, etc / "collector.credentials", etc, "collector"),
        f"username = {toml_string(username)}   # also its client id: each collector needs its own",
        "",
        "[database]",
        'path = "/var/lib/forecourt/collector.db"   # the StateDirectory of forecourt-collector.service',
        "",
        "[http]",
        'listen = "127.0.0.1:8080"   # put a TLS reverse proxy in front to serve it beyond this host',
        "",
    ]
    return "\n".join(lines)


def _check_config(text: str, kind: str) -> None:
    """Never write a skeleton that `forecourt check-config` would refuse."""
    from cloud.config import CollectorConfig
    from edge.config import StationConfig

    model = StationConfig if kind == "station" else CollectorConfig
    validate(model, tomllib.loads(text), f"generated {kind} config")


def _refuse_to_overwrite(paths: list[Path], username: str, collector: bool, dynsec: Path, force: bool) -> None:
    known = read_clients(dynsec).get(username)
    if known is not None and known.collector != collector:
        # Never, not even with --force: a station under a collector's name would read the whole fleet.
        was = "a collector" if known.collector else "a station"
        raise ConfigError(f"{dynsec}: {username!r} is already {was}; pick another name")
    if force:
        return
    existing = [str(p) for p in paths if p.exists()]
    if existing:
        raise ConfigError(f"{', '.join(existing)} already exist(s); --force overwrites (and changes the password)")
    if known is not None:
        raise ConfigError(
            f"{dynsec} already has a password for {username!r}; --force replaces it "
            "(the old credentials stop working after the broker restarts)"
        )


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(temp, mode)  # whatever the umask
    os.replace(temp, path)


def _provision(
    username: str, config_text: str, kind: str, config_file: Path, credentials_file: Path, dynsec: Path, force: bool
) -> Provisioned:
    _check_config(config_text, kind)
    if not dynsec.parent.is_dir():
        raise ConfigError(f"--dynsec {dynsec}: directory {dynsec.parent} does not exist (is Mosquitto installed here?)")
    collector = kind == "collector"
    _refuse_to_overwrite([config_file, credentials_file], username, collector, dynsec, force)
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    # The broker's file last: until it changes, nothing that worked before stops working.
    _write(credentials_file, f"{username}:{password}\n", 0o600)
    _write(config_file, config_text, 0o644)
    write_clients(dynsec, {username: password}, collectors=[username] if collector else [])
    return Provisioned(username, password, config_file, credentials_file, dynsec)


def provision_station(
    station_id: str,
    *,
    region: str,
    out: Path,
    dynsec: Path = DEFAULT_DYNSEC,
    broker_url: str = STATION_BROKER,
    name: str = "",
    timezone: str = "UTC",
    etc: Path = DEFAULT_ETC,
    registry: Path | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> Provisioned:
    """Write ``out/station.toml`` and ``out/credentials``, add the station to ``dynsec`` and its row to
    ``registry`` (default: ``stations.csv`` beside ``out``)."""
    registry = registry or out.parent / REGISTRY_NAME
    user = station_user(station_id, dynsec)
    text = station_config_text(
        user,
        region=check_region(region),
        name=name,
        timezone=check_timezone(timezone),
        broker_url=broker_url,
        etc=etc,
        written=now or datetime.now(UTC),
    )
    rows = read_registry(registry)  # a broken registry is refused before anything is written
    done = _provision(user, text, "station", out / "station.toml", out / "credentials", dynsec, force)
    rows[user] = {"id": user, "name": name, "region": region, "timezone": timezone}
    _write(registry, registry_text(rows.values()), 0o644)
    return replace(done, registry_file=registry)


def read_registry(path: Path) -> dict[str, dict[str, str]]:
    """The rows of a registry CSV by station id; {} when there is none yet."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"--registry {path}: cannot be read: {getattr(err, 'strerror', None) or err}") from None
    reader = csv.DictReader(io.StringIO(text))
    if not {"id", "name", "region"} <= set(reader.fieldnames or ()):
        raise ConfigError(f"--registry {path}: not a station registry (its header must name {', '.join(REGISTRY_COLUMNS)})")
    return {row["id"]: {c: row.get(c) or "" for c in REGISTRY_COLUMNS} for row in reader if row.get("id")}


def registry_text(rows) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, REGISTRY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda row: row["id"]))
    return out.getvalue()


def provision_collector(
    *,
    out: Path,
    dynsec: Path = DEFAULT_DYNSEC,
    username: str = COLLECTOR_USER,
    broker_url: str = COLLECTOR_BROKER,
    etc: Path = DEFAULT_ETC,
    force: bool = False,
    now: datetime | None = None,
) -> Provisioned:
    """Write ``out/collector.toml`` and ``out/collector.credentials`` and add the collector to ``dynsec``.

    A second collector (sharing the fleet through the share group) needs a ``username`` of its own: the
    broker uses it as the client id, and a second connection under one name pushes the first out.
    """
    user = collector_user(username)
    text = collector_config_text(broker_url=broker_url, etc=etc, written=now or datetime.now(UTC), username=user)
    files = (out / "collector.toml", out / "collector.credentials")
    return _provision(user, text, "collector", *files, dynsec, force)


def register(parser: argparse.ArgumentParser) -> None:
    which = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
    station = which.add_parser("station", help="a station: its MQTT user, credentials and config skeleton")
    station.add_argument("id", help="station id, also its MQTT username: [a-z0-9][a-z0-9-]{0,63}")
    station.add_argument("--region", required=True, help="region path, e.g. east/oslo/sentrum")
    station.add_argument("--name", default="", help="human name shown at HQ")
    station.add_argument("--timezone", default="UTC", help="IANA time zone of the station (default UTC)")
    station.add_argument(
        "--registry", type=Path,
        help=f"CSV the station's name, region and time zone are added to, for `forecourt stations import` (default: {REGISTRY_NAME} beside --out)",
    )
    collector = which.add_parser("collector", help="a collector's MQTT user, credentials and config skeleton")
    collector.add_argument(
        "--username", default=COLLECTOR_USER, help=f"MQTT username, one per collector instance (default {COLLECTOR_USER})"
    )
    roles = which.add_parser(
        "roles", help="rewrite every station's and collector's broker role from this version's code "
        "(after an upgrade that adds an event kind); passwords are kept",
    )
    roles.add_argument("--dynsec", type=Path, default=DEFAULT_DYNSEC, help=f"the broker's dynamic-security file (default {DEFAULT_DYNSEC})")
    for sub, default_broker in ((station, STATION_BROKER), (collector, COLLECTOR_BROKER)):
        sub.add_argument("--out", type=Path, help="where to write the files (default ./<id>)")
        sub.add_argument(
            "--dynsec", "--passwd", dest="dynsec", type=Path, default=DEFAULT_DYNSEC,
            help=f"the broker's dynamic-security file (default {DEFAULT_DYNSEC}); --passwd is the old name",
        )
        sub.add_argument(
            "--broker", default=os.environ.get("FORECOURT_BROKER_URL", default_broker),
            help=f"broker URL written into the config (default $FORECOURT_BROKER_URL or {default_broker})",
        )
        sub.add_argument("--etc", type=Path, default=DEFAULT_ETC, help=f"where the files will be installed (default {DEFAULT_ETC})")
        sub.add_argument("--force", action="store_true", help="overwrite existing files and replace the password")


def refresh_roles(dynsec: Path) -> int:
    """Write every role anew from the code, keeping each user's password; returns how many users there are."""
    if not dynsec.is_file():
        raise ConfigError(f"--dynsec {dynsec}: no such file (nothing provisioned yet?)")
    write_clients(dynsec, {})
    return len(read_clients(dynsec))


def run(args: argparse.Namespace) -> int:
    if args.what == "roles":
        users = refresh_roles(args.dynsec)
        print(f"{args.dynsec}: the roles of {users} user(s) rewritten from this version; passwords kept")
        print("next: sudo systemctl restart mosquitto   # the broker reads its dynamic-security file when it starts")
        return 0
    if args.what == "station":
        done = provision_station(
            args.id, region=args.region, name=args.name, timezone=args.timezone, out=args.out or Path(args.id),
            dynsec=args.dynsec, broker_url=args.broker, etc=args.etc, registry=args.registry, force=args.force,
        )
        target = "the station"
    else:
        done = provision_collector(
            out=args.out or Path(args.username), dynsec=args.dynsec, username=args.username, broker_url=args.broker,
            etc=args.etc, force=args.force,
        )
        target = "the collector's host"
    print(f"{done.username}: password and role added to {done.dynsec_file}")
    print(f"wrote {done.config_file} and {done.credentials_file} (mode 0600)")
    print("next: sudo systemctl restart mosquitto   # the broker reads its dynamic-security file when it starts")
    print(f"      copy both files to {args.etc}/ on {target}, owned by the forecourt user (docs/INSTALL.md)")
    if done.registry_file is not None:
        print(f"      HQ learns its name and region from {done.registry_file}, once the collector runs:")
        print(f"      sudo -u forecourt forecourt stations import - --config {args.etc}/collector.toml < {done.registry_file}")
    return 0
