"""Fleet configuration at HQ, the pure part: layers of settings, how they merge into one station's
document, how a value is judged, and HQ's own keys (goals). No database here (cloud/fleet_store.py).

A layer is the chain, a region path or one station, each a set of ``key -> value``. A station's settings
are the chain's, then each region containing it from the top down (``north``, ``north/leeds``), then its
own: a lower layer's value for the same key wins. Keys are the protocol's (forecourt/protocol/fleet.py);
the station itself lets an item's key (``restrooms.gents.interval_min``) beat the section-wide one
(``restrooms.interval_min``) whichever layer set them, so a region's new interval never overrides the
one a station set for one restroom.

``goals.<field>`` keys are HQ's alone: the chain's goals for the rollups and score (cloud/config.py
GoalSettings), judged by GoalSettings' own fields, settable on the chain layer only, never sent to a station.
"""

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from cloud.config import GoalSettings
from cloud.registry import ancestors, normalise_region
from forecourt.errors import ForecourtError, ProtocolError
from forecourt.protocol import check_setting, check_station_id
from forecourt.protocol.fleet import Scalar

GOALS_PREFIX = "goals."


class FleetError(ForecourtError, ValueError):
    """A setting HQ may not make (unknown key, bad value, wrong layer); the message names the key path."""


@dataclass(frozen=True, order=True)
class Layer:
    kind: Literal["chain", "region", "station"]
    name: str = ""  # the region path or the station id; "" for the chain

    def __str__(self) -> str:
        return self.kind if self.kind == "chain" else f"{self.kind}:{self.name}"


CHAIN = Layer("chain")


def parse_layer(text: str) -> Layer:
    """``chain``, ``region:<path>`` or ``station:<id>`` (as :class:`Layer` prints itself)."""
    kind, _, name = text.strip().partition(":")
    try:
        if kind == "chain" and not name:
            return CHAIN
        if kind == "region" and name:
            return Layer("region", normalise_region(name))
        if kind == "station" and name:
            return Layer("station", check_station_id(name))
    except ValueError as err:
        raise FleetError(f"layer {text!r}: {err}") from None
    raise FleetError(f"layer {text!r} must be chain, region:<path> or station:<id>")


def station_layers(station: str, region: str, *, registered: bool) -> list[Layer]:
    """The layers of one station, first to last (a later one wins). A station HQ has not registered (it
    published before anyone placed it) gets the chain's settings only: nobody has said where it belongs."""
    if not registered:
        return [CHAIN]
    return [CHAIN, *(Layer("region", path) for path in ancestors(region)), Layer("station", station)]


def parse_value(text: str) -> Scalar:
    """A command-line value: JSON when it parses as such (``60`` is a number, ``true`` a boolean, ``null``
    the field's default), otherwise the text itself (``06:00-22:00``)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value  # a list or an object is refused by check_value, with the key path


def parse_assignment(text: str) -> tuple[str, Scalar]:
    """``restrooms.interval_min=60`` -> ``("restrooms.interval_min", 60)``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise FleetError(f"{text!r} is not KEY=VALUE (e.g. restrooms.interval_min=60)")
    return key.strip(), parse_value(value.strip())


def is_goal(key: str) -> bool:
    return key.startswith(GOALS_PREFIX)


def check_value(layer: Layer, key: str, value: Any) -> Scalar:
    """The value if ``key`` may be set to it in ``layer``; :class:`FleetError` naming the key otherwise.
    Station keys are judged by the protocol's field definitions, goals by GoalSettings' own."""
    if isinstance(value, float) and not math.isfinite(value):  # JSON has no such number: it could not be sent
        raise FleetError(f"{key}: must be a finite number")
    if is_goal(key):
        return _check_goal(layer, key, value)
    try:
        return check_setting(key, value)
    except ProtocolError as err:
        raise FleetError(str(err)) from None


def _check_goal(layer: Layer, key: str, value: Any) -> Scalar:
    field = key.removeprefix(GOALS_PREFIX)
    if field not in GoalSettings.model_fields:
        raise FleetError(f"{key}: unknown goal {field!r} (settable: {', '.join(GOALS_PREFIX + f for f in GoalSettings.model_fields)})")
    if layer != CHAIN:
        raise FleetError(f"{key}: goals are the chain's; set them on the chain layer, not {layer}")
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        raise FleetError(f"{key}: must be a number")
    try:
        GoalSettings.model_validate({field: value})
    except ValidationError as err:
        raise FleetError(f"{key}: {err.errors(include_url=False)[0]['msg']}") from None
    return value


def check_values(layer: Layer, values: Mapping[str, Any]) -> dict[str, Scalar]:
    """Every value checked; one :class:`FleetError` listing each refused key, so nothing is half set."""
    checked, problems = {}, []
    for key in sorted(values):
        try:
            checked[key] = check_value(layer, key, values[key])
        except FleetError as err:
            problems.append(str(err))
    if problems:
        raise FleetError("; ".join(problems))
    return checked


@dataclass(frozen=True)
class Setting:
    value: Scalar
    layer: Layer  # where the value came from


def merge(layers: Mapping[Layer, Mapping[str, Scalar]], order: Iterable[Layer]) -> dict[str, Setting]:
    """Each key's value from the last layer of ``order`` that sets it, and which layer that was."""
    merged: dict[str, Setting] = {}
    for layer in order:
        for key, value in layers.get(layer, {}).items():
            merged[key] = Setting(value, layer)
    return dict(sorted(merged.items()))


def station_settings(merged: Mapping[str, Setting]) -> dict[str, Scalar]:
    """What goes into a station's document: every merged key but HQ's own."""
    return {key: s.value for key, s in merged.items() if not is_goal(key)}


def goals(file_goals: GoalSettings, chain: Mapping[str, Scalar]) -> GoalSettings:
    """The collector file's goals with the chain layer's ``goals.*`` over them."""
    overrides = {key.removeprefix(GOALS_PREFIX): value for key, value in chain.items() if is_goal(key)}
    return GoalSettings.model_validate(file_goals.model_dump() | overrides)


def replay(entries: Iterable[tuple[str, Scalar | None, bool]]) -> dict[str, Scalar]:
    """A layer's values from its audit trail, oldest first: ``(key, new value, present)`` per entry
    (``present`` False is an unset)."""
    values: dict[str, Scalar] = {}
    for key, value, present in entries:
        if present:
            values[key] = value
        else:
            values.pop(key, None)
    return values


Rollout = Literal["applied", "rejected", "pending_online", "pending_offline", "no_settings"]


def rollout_state(desired: tuple[int, str] | None, reported: tuple[int, str, str] | None, online: bool) -> Rollout:
    """Where a station stands on its current document: ``desired`` is (rev, hash) HQ holds for it,
    ``reported`` the (rev, hash, state) of its latest config state, ``online`` from its status."""
    if desired is None:
        return "no_settings"
    if reported is not None and reported[:2] == desired:
        return "applied" if reported[2] == "applied" else "rejected"
    return "pending_online" if online else "pending_offline"
