"""HQ's settings over the station's file: the config the station then runs by, or why it cannot.

Pure: the station's file config and a document's settings (``forecourt.protocol.fleet`` keys) in, an
:class:`Effective` config or a list of :class:`SettingError` out. Always laid over the *file*, never over
what HQ set before, so a key HQ stops sending goes back to the file's value.

- ``restrooms.interval_min`` sets the field on every restroom; ``restrooms.gents.interval_min`` on one,
  over the section-wide value whatever the keys' order.
- Each value is first judged by its own field definition (the protocol's ``setting_errors``); an item id
  the station does not have is an error on its key; then the whole result is validated by the same
  :class:`StationConfig` the file was, so rules that tie two fields together (``catch_up_min`` below
  ``interval_min``, one from HQ and one from the file) are judged here, on this station's values.
- Errors name the document's key that caused them (``path``); the message names the item and field
  that broke (``restrooms.ladies.catch_up_min: 20 would flag every cleaning on time (interval_min is 1)``).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from edge.config import StationConfig
from forecourt.protocol import SettingError, setting_errors
from forecourt.protocol.fleet import SECTIONS, Scalar, parse_key

# Fields whose new value takes effect only after a restart, reported in ConfigState.restart_needed. Empty:
# every field HQ may set is read by the running logic at each use or retuned in place (Sensors.retune,
# Pipeline.retune). A field that cannot be goes here as (section, field), or "log_level".
NOT_LIVE: frozenset[tuple[str | None, str]] = frozenset()


@dataclass(frozen=True)
class Effective:
    """What the station runs by: its file with HQ's settings over it."""

    config: StationConfig
    log_level: str | None = None  # None: the level the service was started with (flag, environment)


@dataclass(frozen=True)
class Change:
    path: str  # one item's field (restrooms.gents.interval_min) or log_level
    before: Scalar
    after: Scalar
    live: bool  # takes effect without a restart


def overlay(file_config: StationConfig, settings: Mapping[str, Any]) -> Effective | list[SettingError]:
    """``settings`` over ``file_config``: the effective config, or every reason it cannot be, by key."""
    errors = setting_errors(settings)
    bad = {e.path for e in errors}
    ids = {section: [item.id for item in getattr(file_config, section)] for section in SECTIONS}
    section_wide: dict[str, dict[str, tuple[str, Any]]] = {section: {} for section in SECTIONS}
    per_item: dict[tuple[str, str], dict[str, tuple[str, Any]]] = {}
    log_level = None
    for key in sorted(settings):
        if key in bad:
            continue
        where = parse_key(key)
        if where.section is None:
            log_level = settings[key]
        elif where.item is None:
            section_wide[where.section][where.field] = (key, settings[key])
        elif where.item not in ids[where.section]:
            known = ", ".join(ids[where.section]) or "none"
            errors.append(_error(key, f"{where.section}.{where.item}: this station has no {where.section[:-1]} "
                                      f"{where.item!r} (it has: {known})"))
        else:
            per_item.setdefault((where.section, where.item), {})[where.field] = (key, settings[key])
    if errors:
        return sorted(errors, key=lambda e: e.path)
    data = file_config.model_dump()
    sources: dict[tuple[str, int], dict[str, str]] = {}  # (section, index) -> field -> the key that set it
    for section in SECTIONS:
        for index, item in enumerate(data[section]):
            chosen = section_wide[section] | per_item.get((section, item["id"]), {})
            item.update({field: value for field, (_, value) in chosen.items()})
            if chosen:
                sources[(section, index)] = {field: key for field, (key, _) in chosen.items()}
    try:
        config = StationConfig.model_validate(data)
    except ValidationError as err:
        return [_located(e, data, sources) for e in err.errors(include_url=False)]
    return Effective(config, log_level)


def changes(before: Effective, after: Effective) -> list[Change]:
    """Every settable value that differs, per item (a section-wide key shows once per item it changes)."""
    found = []
    for section, rules in SECTIONS.items():
        old_items = {item.id: item for item in getattr(before.config, section)}
        for item in getattr(after.config, section):
            old = old_items.get(item.id)
            for field in rules.model_fields:
                old_value, new_value = getattr(old, field, None), getattr(item, field)
                if old is None or old_value != new_value:
                    live = (section, field) not in NOT_LIVE
                    found.append(Change(f"{section}.{item.id}.{field}", old_value, new_value, live))
    if before.log_level != after.log_level:
        found.append(Change("log_level", before.log_level, after.log_level, (None, "log_level") not in NOT_LIVE))
    return found


def _located(error: Any, data: dict[str, Any], sources: dict[tuple[str, int], dict[str, str]]) -> SettingError:
    """A validation error of the overlaid config, blamed on the document's key that led to it."""
    loc = tuple(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if len(loc) >= 2 and loc[0] in SECTIONS and isinstance(loc[1], int):
        section, index = loc[0], loc[1]
        item = f"{section}.{data[section][index]['id']}"
        # A field's own error names the field in loc; a rule across fields names it first in its message.
        field = str(loc[2]) if len(loc) > 2 else message.partition(":")[0]
        set_here = sources.get((section, index), {})
        key = set_here.get(field) or min(set_here.values(), default=item)
        if len(loc) > 2:
            return _error(key, f"{item}.{field}: {message}")
        return _error(key, f"{item}.{message}" if field in SECTIONS[section].model_fields else f"{item}: {message}")
    return _error(".".join(map(str, loc)) or "settings", message)


def _error(path: str, message: str) -> SettingError:
    return SettingError(path=path[:200], message=message[:500])
