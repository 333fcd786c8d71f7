"""Check a station or collector config file as its service checks it when it starts, and say which of
the two it took the file for. Exits 0 when the service would start with it; otherwise exits 1 with one
line per problem, each naming the key path (e.g. ``restrooms[1].button_pin: pin 17 is already used by ...``).

Beyond the file's own keys it runs what the service runs at start: a station builds its restrooms and
kiosks (time zone, active hours, GPIO pins on a mock board) and both read the credentials file and the
TLS certificates the file names. ``--no-files`` leaves those files out, for a skeleton that
``forecourt provision`` wrote before it is installed where it points.
"""

import argparse
import difflib
import sys
from pathlib import Path

from forecourt.errors import ConfigError
from forecourt.settings import config_hash, load_toml

KINDS = ("station", "collector")
SERVICE = {"station": "edge", "collector": "collector"}  # the command that runs with each kind


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="TOML file to check")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--station", action="store_const", const="station", dest="kind", help="check it as a station config")
    kind.add_argument("--collector", action="store_const", const="collector", dest="kind", help="check it as a collector config")
    parser.add_argument(
        "--no-files", action="store_true",
        help="do not read the credentials and certificate files it names (a skeleton not yet installed)",
    )


def sections() -> dict[str, frozenset[str]]:
    """The top-level keys each kind of config accepts."""
    from cloud.config import CollectorConfig
    from edge.config import StationConfig

    return {"station": frozenset(StationConfig.model_fields), "collector": frozenset(CollectorConfig.model_fields)}


def detect(data: dict, path: str) -> tuple[str, str]:
    """Which kind of config ``data`` is, and why we think so; ConfigError when it cannot be told."""
    if not data:
        raise ConfigError(f"{path}: the file is empty: a station config needs [station], a collector config [mqtt] or [database]")
    keys, known = set(data), sections()
    only = {kind: sorted(keys & known[kind] - known[other]) for kind, other in (KINDS, KINDS[::-1])}
    if "station" in keys:
        return "station", "it has [station]"
    if only["station"] and only["collector"]:
        raise ConfigError(
            f"{path}: it mixes station sections ({_tables(only['station'])}) and collector sections "
            f"({_tables(only['collector'])}); give --station or --collector"
        )
    for kind in KINDS:
        if only[kind]:
            return kind, f"it has {_tables(only[kind])}"
    if _misspelt_station(keys):
        return "station", f"[{_misspelt_station(keys)}] looks like [station]"
    if keys <= known["collector"]:
        return "collector", f"it has {_tables(sorted(keys))} and no [station]"
    raise ConfigError(
        f"{path}: neither a station nor a collector config (it has {_tables(sorted(keys))}); give --station or --collector"
    )


def _tables(names: list[str]) -> str:
    return ", ".join(f"[{name}]" for name in names)


def _misspelt_station(keys: set[str]) -> str | None:
    close = difflib.get_close_matches("station", sorted(keys - {"station"}), n=1, cutoff=0.7)
    return close[0] if close else None


def check_station(path: str, *, files: bool):
    """What ``forecourt edge`` checks before it reports ready."""
    from gpiozero.pins.mock import MockFactory

    from edge.config import load_station_config
    from edge.events import ListSink
    from edge.sensors import build_sensors

    config = load_station_config(path)
    factory = MockFactory()
    try:
        build_sensors(config, ListSink(), pin_factory=factory).close()  # time zone, active hours, pins
    finally:
        factory.close()
    if files:
        config.mqtt.credentials(default_username=config.station.id)
        config.mqtt.tls_context()
        if config.web.enabled:  # the page reads its password file when it starts
            from edge.web.app import read_password

            read_password(config.web.password_file)
        if config.homeassistant.enabled:  # the bridge to the station's own broker, when it connects
            config.homeassistant.credentials()
            config.homeassistant.tls_context()
    return config


def check_collector(path: str, *, files: bool):
    """What ``forecourt collector`` checks before it connects."""
    from cloud.config import load_collector_config

    config = load_collector_config(path)
    if files:
        config.mqtt.credentials()
        config.mqtt.tls_context()
    return config


def run(args: argparse.Namespace) -> int:
    path, kind = args.file, args.kind
    try:
        data = load_toml(path)
        if kind is None or not data:  # an empty file is refused even when its kind is given
            kind, why = detect(data, path)
        else:
            why = f"--{kind}"
        station_key = _misspelt_station(set(data)) if kind == "station" and "station" not in data else None
        if station_key:
            raise ConfigError(f"{station_key}: unknown key (misspelt? a station config needs [station])")
        config = (check_station if kind == "station" else check_collector)(path, files=not args.no_files)
    except ConfigError as err:
        for line in _problems(str(err), path):
            print(f"error: {path}: {f'{kind} config: ' if kind else ''}{line}", file=sys.stderr)
        return 1
    checked = "its credential and certificate files not read (--no-files)" if args.no_files else f"checked as forecourt {SERVICE[kind]} checks it at start"
    print(f"{path}: valid {kind} config ({why}; {checked}; hash {config_hash(config)})")
    return 0


def _problems(message: str, path: str) -> list[str]:
    """A loader's message (``PATH:\\nproblem\\nproblem``, or ``PATH: problem``) as one line per problem."""
    for prefix in (f"{path}:\n", f"{path}: ", f"{Path(path)}:\n", f"{Path(path)}: "):
        if message.startswith(prefix):
            message = message[len(prefix):]
            break
    return [line for line in message.splitlines() if line.strip()] or [message]
