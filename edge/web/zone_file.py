"""Writing zone polygons back into the station's TOML file, keeping everything else as the person wrote it.

Python reads TOML but cannot write it, and rewriting the whole file would lose its comments. So only the
``polygon = [...]`` of each edited ``[[zones]]`` block is replaced, in the text (a new zone is appended as a
block of its own). The result must parse, must validate with the same :class:`StationConfig` the service
starts with, and must hold exactly the polygons asked for; only then is the old file kept as a backup and
the new one put in its place atomically. Inline zone tables (``zones = [{...}]``) are refused with a
message, as is anything the splice cannot place.
"""

import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge.config import StationConfig
from forecourt.errors import ConfigError
from forecourt.settings import validate

Point = tuple[float, float]
_TABLE = re.compile(r"^\s*\[")
_ZONES = re.compile(r"^\s*\[\[\s*zones\s*\]\]\s*(#.*)?$")
_ID = re.compile(r"""^\s*id\s*=\s*["']([^"']*)["']""")
_POLYGON = re.compile(r"^\s*polygon\s*=")


@dataclass(frozen=True)
class ZoneEdit:
    id: str
    polygon: list[Point]
    kind: str = "zone"  # only for a new zone


@dataclass(frozen=True)
class Saved:
    path: Path
    backup: Path
    config: StationConfig


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def polygon_toml(points: list[Point]) -> str:
    return "polygon = [" + ", ".join(f"[{_number(x)}, {_number(y)}]" for x, y in points) + "]"


def _blocks(lines: list[str]) -> list[tuple[int, int]]:
    """(first, end) line indexes of every ``[[zones]]`` block: its header up to the next table header."""
    starts = [i for i, line in enumerate(lines) if _ZONES.match(line)]
    blocks = []
    for start in starts:
        end = next((j for j in range(start + 1, len(lines)) if _TABLE.match(lines[j])), len(lines))
        blocks.append((start, end))
    return blocks


def _assignment_end(lines: list[str], first: int) -> int:
    """The index after the last line of the ``polygon = [...]`` value starting on line ``first``."""
    depth = 0
    for j in range(first, len(lines)):
        text = lines[j].split("#", 1)[0]  # a polygon holds numbers only: a '#' starts a comment
        depth += text.count("[") - text.count("]")
        if depth <= 0:
            return j + 1
    raise ConfigError(f"line {first + 1}: the polygon's brackets never close")


def replace_polygons(text: str, edits: list[ZoneEdit]) -> str:
    """``text`` with each edited zone's polygon replaced (and unknown zones appended)."""
    lines = text.splitlines(keepends=True)
    wanted = {edit.id: edit for edit in edits}
    # Bottom-up, so earlier line numbers stay valid while later blocks change length.
    for start, end in reversed(_blocks(lines)):
        ids = [m.group(1) for line in lines[start:end] if (m := _ID.match(line))]
        if len(ids) != 1 or ids[0] not in wanted:
            continue
        edit = wanted.pop(ids[0])
        at = next((j for j in range(start, end) if _POLYGON.match(lines[j])), None)
        if at is None:
            raise ConfigError(f"zones: the block of {edit.id!r} (line {start + 1}) has no polygon line to replace")
        indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
        lines[at:_assignment_end(lines, at)] = [f"{indent}{polygon_toml(edit.polygon)}\n"]
    out = "".join(lines)
    for edit in wanted.values():  # new zones
        out += ("" if out.endswith("\n") or not out else "\n") + (
            f'\n[[zones]]\nid = "{edit.id}"\nkind = "{edit.kind}"\n{polygon_toml(edit.polygon)}\n'
        )
    return out


def checked(text: str, edits: list[ZoneEdit], source: str) -> StationConfig:
    """The config ``text`` describes, validated, and holding exactly the edited polygons."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{source}: the edited file would not be valid TOML ({err}); are the zones written inline?") from None
    config = validate(StationConfig, data, source)
    polygons = {zone.id: [tuple(p) for p in zone.polygon] for zone in config.zones}
    for edit in edits:
        if polygons.get(edit.id) != [(float(x), float(y)) for x, y in edit.polygon]:
            raise ConfigError(f"{source}: zone {edit.id!r} did not come out as drawn; edit the file by hand")
    return config


def save_zones(path: Path, edits: list[ZoneEdit], *, now: datetime | None = None) -> Saved:
    """Write ``edits`` into the config file at ``path``; the previous file is kept as ``<name>.<time>.bak``."""
    path = Path(path)
    original = path.read_text(encoding="utf-8")
    text = replace_polygons(original, edits)
    config = checked(text, edits, str(path))
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    backup = path.with_name(f"{path.name}.{stamp}.bak")
    backup.write_text(original, encoding="utf-8")
    mode = path.stat().st_mode & 0o777
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Saved(path, backup, config)
