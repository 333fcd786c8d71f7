"""Fleet configuration: the layers, a station's effective settings, setting and removing a key, rollback,
the rollout and the audit trail (cloud/fleet_store.py does the work; this says who may).

Who may read a layer: anyone it reaches (the chain reaches everyone; a region its stations and every
sub-region's manager; a station layer that station). Who may change one: ``hq`` any layer; ``region:<path>``
the regions inside its own and the stations in them; a station's token none. A refused key or value is
422 naming the key, and nothing changes.
"""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from cloud import fleet_store as store
from cloud.api.deps import (
    CurrentUser,
    DbDep,
    Now,
    RegionQ,
    StationPath,
    StationQ,
    check_station,
    request_scope,
    shown,
)
from cloud.auth import User
from cloud.database import Database
from cloud.fleet_config import FleetError, Layer, parse_layer
from cloud.fleet_rollout import rollout
from cloud.registry import in_region
from forecourt.protocol.fleet import Scalar

router = APIRouter(prefix="/fleet", tags=["fleet configuration"])
LayerText = Annotated[str, Field(max_length=300, description="chain, region:<path> or station:<id>")]
KeyText = Annotated[str, Field(max_length=200, description="A setting's key, e.g. restrooms.interval_min")]


class SettingIn(BaseModel):
    layer: LayerText
    key: KeyText
    value: Scalar = Field(description="A JSON scalar, judged by the field's own definition")


class RollbackIn(BaseModel):
    entry: int = Field(ge=1, le=2**63 - 1, description="An audit entry's id")
    before: bool = Field(False, description="Its layer as it was just before that entry, instead of right after it")


class AuditEntry(BaseModel):
    id: int
    change: int = Field(description="Entries made by one change share it")
    at: str
    user: str
    layer: str
    key: str
    old: Scalar = Field(description="The value before (null when was_set is false)")
    new: Scalar = Field(description="The value after (null when unset is true)")
    was_set: bool
    unset: bool
    note: str


class ChangeOut(BaseModel):
    change: int
    entries: list[AuditEntry]
    issued: list[tuple[str, int]] = Field(description="(station, rev) of every document the change issued")


class LayerSetting(BaseModel):
    layer: str
    key: str
    value: Scalar
    set_by: str
    set_at: str


class RolloutRow(BaseModel):
    station: str
    name: str
    region: str
    status: str = Field(description="online, offline or unknown, from the station's retained status")
    desired_rev: int | None = Field(description="The rev HQ holds for it (null: no settings, it runs by its file)")
    issued_at: str | None
    reported_rev: int | None = Field(description="The rev of its latest config state")
    state: str | None = Field(description="applied or rejected, as it reported")
    applied_rev: int | None = Field(description="The rev in effect there (0: its file alone)")
    errors: list[dict] = Field(description="Why it rejected, by key: {path, message}")
    restart_needed: list[str]
    at: str | None = Field(description="When the station applied or rejected it")
    received_at: str | None
    rollout: str = Field(description="applied, rejected, pending_online, pending_offline or no_settings")


class RolloutOut(BaseModel):
    counts: dict[str, int]
    stations: list[RolloutRow]


def _station_region(db: Database, station: str) -> str | None:
    row = db.execute("SELECT region FROM stations WHERE id = ?", [station]).fetchone()
    return None if row is None else row[0]


def may_change(db: Database, user: User, layer: Layer) -> bool:
    role = user.role
    if role.kind == "hq":
        return True
    if role.kind != "region" or layer.kind == "chain":
        return False
    if layer.kind == "region":
        return role.sees_region(layer.name)
    region = _station_region(db, layer.name)
    return region is not None and role.sees_station(layer.name, region)


def may_read(db: Database, user: User, layer: Layer) -> bool:
    """Whether ``layer`` reaches the caller's stations (or the caller may change it)."""
    if layer.kind == "chain" or may_change(db, user, layer):
        return True
    role = user.role
    own = role.value if role.kind == "region" else _station_region(db, role.value) or ""
    if layer.kind == "region":
        return role.kind != "hq" and bool(own) and in_region(own, layer.name)
    return role.kind == "station" and layer.name == role.value


def _layer(text: str) -> Layer:
    try:
        return parse_layer(text)
    except FleetError:
        raise HTTPException(422, f"layer {shown(text)} must be chain, region:<path> or station:<id>") from None


def _changed(db: Database, user: User, layer: Layer, action) -> dict:
    if not may_change(db, user, layer):
        raise HTTPException(403, f"{shown(str(layer))} is outside what you may change ({user.role})")
    try:
        change = action()
    except FleetError as err:
        raise HTTPException(422, str(err)[:1000]) from None
    return {"change": change.id, "entries": change.entries, "issued": change.issued}


@router.get("/layers", response_model=list[LayerSetting])
def layers(db: DbDep, user: CurrentUser) -> list[dict]:
    """Every setting of every layer that reaches the caller's stations, with who set it when."""
    visible = [layer for layer in store.read_layers(db) if may_read(db, user, layer)]
    return store.layer_rows(db, visible)


@router.get("/stations/{station}")
def station_settings(station: StationPath, db: DbDep, user: CurrentUser) -> dict:
    """The station's settings as HQ merges them (each with its layer), its current rev and its documents."""
    check_station(db, user, station)
    return {**store.effective(db, station), "documents": store.document_history(db, station, limit=20)}


@router.put("/settings", response_model=ChangeOut)
def set_setting(body: SettingIn, db: DbDep, user: CurrentUser, now: Now) -> dict:
    layer = _layer(body.layer)
    return _changed(db, user, layer, lambda: store.change_settings(db, layer, values={body.key: body.value}, by=user.name, now=now))


@router.delete("/settings", response_model=ChangeOut)
def unset_setting(
    db: DbDep, user: CurrentUser, now: Now,
    layer: Annotated[str, Query(max_length=300, description="chain, region:<path> or station:<id>")],
    key: Annotated[str, Query(max_length=200, description="The key to remove from that layer")],
) -> dict:
    parsed = _layer(layer)
    return _changed(db, user, parsed, lambda: store.change_settings(db, parsed, unset=[key], by=user.name, now=now))


@router.post("/rollback", response_model=ChangeOut)
def rollback(body: RollbackIn, db: DbDep, user: CurrentUser, now: Now) -> dict:
    """Put the layer of an audit entry back to its values right after it (or just before), as a new change."""
    try:
        layer = store.audit_layer(db, body.entry)
    except FleetError as err:
        raise HTTPException(404, str(err)) from None
    if not may_read(db, user, layer):  # an entry the caller may not see is one it cannot name
        raise HTTPException(404, f"no audit entry {body.entry}")
    return _changed(db, user, layer, lambda: store.rollback(db, body.entry, by=user.name, now=now, before=body.before))


@router.get("/rollout", response_model=RolloutOut)
def rollout_status(db: DbDep, user: CurrentUser, region: RegionQ = None, station: StationQ = None) -> dict:
    """Per station: the rev HQ wants, what it reported, and applied / rejected / pending (online or offline)."""
    rows = rollout(db, request_scope(db, user, region=region, station=station))
    counts = {state: 0 for state in ("applied", "rejected", "pending_online", "pending_offline", "no_settings")}
    for row in rows:
        counts[row["rollout"]] += 1
    return {"counts": counts, "stations": rows}


@router.get("/history", response_model=list[AuditEntry])
def history(
    db: DbDep, user: CurrentUser, station: StationQ = None, limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> list[dict]:
    """The audit trail, newest first: every layer the caller may read, or those reaching ``station``."""
    if station is not None:
        check_station(db, user, station)
        layers = store.effective_layers(db, station)
    else:
        layers = [layer for layer in store.audited_layers(db) if may_read(db, user, layer)]
    return store.history(db, layers=layers, limit=limit)
