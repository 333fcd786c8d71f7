"""Fleet configuration at HQ, the SQL part: layers, the documents issued per station, the states stations
report, and the audit trail (tables from cloud/store.py m009; the rules are cloud/fleet_config.py's).

Every change (``change_settings``) is one transaction: the values are judged first, so a refused key
changes nothing; then the layer is written, each key's old and new value is audited, and every station's
document is rebuilt (:func:`refresh_documents`). A station gets a new ``rev`` exactly when its merged
settings' hash changes, one above any rev it ever had or reported, so a rev is never reused, after a
rollback or an HQ database restored from a backup alike. The collector publishes what this issues
(cloud/fleet_link.py); the CLI and the API write here from their own processes.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cloud.config import GoalSettings
from cloud.database import Database
from cloud.fleet_config import (
    CHAIN,
    FleetError,
    Layer,
    check_values,
    goals,
    is_goal,
    merge,
    parse_layer,
    replay,
    station_layers,
    station_settings,
)
from cloud.registry import all_regions
from cloud.store import writing
from forecourt.errors import ProtocolError
from forecourt.protocol import ConfigDocument, ConfigState, encode, format_ts, settings_hash
from forecourt.protocol.fleet import Scalar


def _dump(value: Scalar) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True)
class Change:
    """What one change did: its number, the audit entries it wrote, and the documents it issued."""

    id: int
    entries: list[dict] = field(default_factory=list)
    issued: list[tuple[str, int]] = field(default_factory=list)  # (station, rev)


def read_layers(db: Database) -> dict[Layer, dict[str, Scalar]]:
    layers: dict[Layer, dict[str, Scalar]] = {}
    for layer, key, value in db.execute("SELECT layer, key, value FROM fleet_settings ORDER BY layer, key"):
        layers.setdefault(parse_layer(layer), {})[key] = json.loads(value)
    return layers


def layer_rows(db: Database, layers: Iterable[Layer] | None = None) -> list[dict]:
    """Every setting of ``layers`` (all when None) with who set it when, by layer then key."""
    wanted = None if layers is None else {str(layer) for layer in layers}
    rows = db.execute("SELECT layer, key, value, set_by, set_at FROM fleet_settings ORDER BY layer, key")
    return [
        {"layer": layer, "key": key, "value": json.loads(value), "set_by": by, "set_at": at}
        for layer, key, value, by, at in rows if wanted is None or layer in wanted
    ]


def _check_layer_exists(db: Database, layer: Layer) -> None:
    """A region HQ has no station in, or a station it has not registered, would take settings nobody gets."""
    if layer.kind == "region" and layer.name not in all_regions(db):
        raise FleetError(f"{layer}: no registered station is in region {layer.name!r} (regions come from `forecourt stations import`)")
    if layer.kind == "station":
        row = db.execute("SELECT auto_registered FROM stations WHERE id = ?", [layer.name]).fetchone()
        if row is None or row[0]:
            raise FleetError(f"{layer}: station {layer.name!r} is not in the registry (place it with `forecourt stations import`)")


def change_settings(
    db: Database, layer: Layer, *, values: Mapping[str, Scalar] | None = None, unset: Iterable[str] = (),
    by: str, now: datetime, note: str = "",
) -> Change:
    """Set ``values`` and remove ``unset`` keys in ``layer`` as one audited change; :class:`FleetError`
    (nothing changed) for a refused value, an unset key the layer does not hold, or an unknown layer."""
    checked = check_values(layer, values or {})
    unset = sorted(set(unset))
    if not by.strip():
        raise FleetError("a change needs the name of who makes it")
    with writing(db):
        _check_layer_exists(db, layer)
        held = read_layers(db).get(layer, {})
        missing = [key for key in unset if key not in held]
        if missing:
            raise FleetError(f"{', '.join(missing)}: not set in {layer} (it holds: {', '.join(held) or 'nothing'})")
        (last,) = db.execute("SELECT coalesce(max(change), 0) FROM fleet_audit").fetchone()
        change, at = last + 1, format_ts(now)
        entries = []
        for key, value in checked.items():
            if key in held and _dump(held[key]) == _dump(value):
                continue  # the same value again: no change, nothing to audit
            db.execute(
                """INSERT INTO fleet_settings (layer, key, value, set_by, set_at) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT(layer, key) DO UPDATE SET value = excluded.value, set_by = excluded.set_by,
                   set_at = excluded.set_at""",
                [str(layer), key, _dump(value), by, at],
            )
            entries.append((key, _dump(held[key]) if key in held else None, _dump(value)))
        for key in unset:
            db.execute("DELETE FROM fleet_settings WHERE layer = ? AND key = ?", [str(layer), key])
            entries.append((key, _dump(held[key]), None))
        db.executemany(
            'INSERT INTO fleet_audit (change, at, "user", layer, key, old, new, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            [(change, at, by, str(layer), key, old, new, note) for key, old, new in entries],
        )
        issued = refresh_documents(db, now)
    return Change(change, history(db, change=change), issued)


def audit_layer(db: Database, entry: int) -> Layer:
    """The layer audit entry ``entry`` changed; :class:`FleetError` when there is no such entry."""
    row = db.execute("SELECT layer FROM fleet_audit WHERE id = ?", [entry]).fetchone()
    if row is None:
        raise FleetError(f"no audit entry {entry} (`forecourt config history` lists them)")
    return parse_layer(row[0])


def rollback(db: Database, entry: int, *, by: str, now: datetime, before: bool = False) -> Change:
    """Put the layer of audit entry ``entry`` back to the values it held right after that entry (right
    before it with ``before``), as a new audited change: the trail keeps both, the revs go on counting."""
    layer = audit_layer(db, entry)
    upto = entry - 1 if before else entry
    trail = db.execute("SELECT key, new FROM fleet_audit WHERE layer = ? AND id <= ? ORDER BY id", [str(layer), upto])
    target = replay((key, None if new is None else json.loads(new), new is not None) for key, new in trail)
    held = read_layers(db).get(layer, {})
    return change_settings(
        db, layer, values={k: v for k, v in target.items() if k not in held or _dump(held[k]) != _dump(v)},
        unset=[key for key in held if key not in target], by=by, now=now,
        note=f"rollback to {'before ' if before else ''}#{entry}",
    )


def _stations(db: Database) -> list[tuple[str, str, bool]]:
    return [(s, region, not auto) for s, region, auto in db.execute("SELECT id, region, auto_registered FROM stations ORDER BY id")]


def refresh_documents(db: Database, now: datetime) -> list[tuple[str, int]]:
    """Issue a new document to every station whose merged settings changed (a new layer value, or the
    registry moved it); (station, rev) of each issued. A station without settings and without a document
    gets none: it runs by its file, as before HQ ever set anything."""
    with writing(db):
        layers = read_layers(db)
        latest = {s: (rev, h) for s, rev, h in db.execute(
            "SELECT station, rev, hash FROM fleet_documents WHERE id IN (SELECT max(id) FROM fleet_documents GROUP BY station)"
        )}
        reported = dict(db.execute("SELECT station, greatest(rev, applied_rev) FROM fleet_states").fetchall())
        issued = []
        for station, region, registered in _stations(db):
            settings = station_settings(merge(layers, station_layers(station, region, registered=registered)))
            digest = settings_hash(settings)
            held = latest.get(station)
            if (held is not None and held[1] == digest) or (held is None and not settings):
                continue
            rev = max(held[0] if held else 0, reported.get(station) or 0) + 1
            _check_sendable(station, ConfigDocument(rev=rev, hash=digest, issued_at=format_ts(now), settings=settings))
            db.execute(
                "INSERT INTO fleet_documents (station, rev, hash, issued_at, settings) VALUES (?, ?, ?, ?, ?)",
                [station, rev, digest, format_ts(now), json.dumps(settings, sort_keys=True)],
            )
            issued.append((station, rev))
    return issued


def _check_sendable(station: str, document: ConfigDocument) -> None:
    """A document the protocol would refuse to send (over 16 KiB, an integer beyond 64 bits) is refused
    here, while the change that made it can still be undone, not found later by the publisher."""
    try:
        encode(document, station)
    except ProtocolError as err:
        raise FleetError(f"station {station}: its settings document could not be sent: {err}") from None


def _document(row: tuple) -> ConfigDocument:
    rev, digest, issued_at, settings = row
    return ConfigDocument(rev=rev, hash=digest, issued_at=issued_at, settings=json.loads(settings))


def current_document(db: Database, station: str) -> ConfigDocument | None:
    row = db.execute(
        "SELECT rev, hash, issued_at, settings FROM fleet_documents WHERE station = ? ORDER BY rev DESC LIMIT 1", [station]
    ).fetchone()
    return None if row is None else _document(row)


def documents_after(db: Database, after_id: int = 0) -> list[tuple[int, str, ConfigDocument]]:
    """(id, station, document) of each station's newest document issued after row ``after_id`` (0: every
    station's current one): what the collector has to publish."""
    rows = db.execute(
        """SELECT id, station, rev, hash, issued_at, settings FROM fleet_documents
           WHERE id IN (SELECT max(id) FROM fleet_documents GROUP BY station) AND id > ? ORDER BY id""",
        [after_id],
    )
    return [(row[0], row[1], _document(row[2:])) for row in rows]


def document_history(db: Database, station: str, limit: int = 100) -> list[dict]:
    rows = db.execute(
        "SELECT rev, hash, issued_at, settings FROM fleet_documents WHERE station = ? ORDER BY rev DESC LIMIT ?", [station, limit]
    )
    return [_document(row).model_dump(mode="json") for row in rows]


def effective(db: Database, station: str) -> dict:
    """One station's settings as HQ merges them, each with the layer it came from, and its current rev."""
    row = db.execute("SELECT region, auto_registered FROM stations WHERE id = ?", [station]).fetchone()
    region, registered = (row[0], not row[1]) if row else ("", False)
    order = station_layers(station, region, registered=registered)
    merged = merge(read_layers(db), order)
    document = current_document(db, station)
    return {
        "station": station, "region": region, "registered": registered, "layers": [str(layer) for layer in order],
        "rev": document.rev if document else None, "hash": document.hash if document else None,
        # sent: False for HQ's own keys (goals.*), which shape HQ's figures and never reach the station
        "settings": {key: {"value": s.value, "layer": str(s.layer), "sent": not is_goal(key)} for key, s in merged.items()},
    }


def record_state(db: Database, station: str, state: ConfigState, received: str) -> None:
    """Keep a station's latest config state (call inside the ingest transaction)."""
    db.execute(
        """INSERT INTO fleet_states (station, rev, hash, state, errors, applied_rev, restart_needed, at, received_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(station) DO UPDATE SET rev = excluded.rev, hash = excluded.hash,
           state = excluded.state, errors = excluded.errors, applied_rev = excluded.applied_rev,
           restart_needed = excluded.restart_needed, at = excluded.at, received_at = excluded.received_at""",
        [station, state.rev, state.hash, state.state, json.dumps([e.model_dump() for e in state.errors]),
         state.applied_rev, json.dumps(state.restart_needed), state.at, received],
    )


def history(
    db: Database, *, layers: Iterable[Layer] | None = None, change: int | None = None, limit: int = 1000
) -> list[dict]:
    """Audit entries, newest first: who changed which key of which layer when, from what to what."""
    clauses, params = [], []
    if layers is not None:
        names = [str(layer) for layer in layers]
        clauses.append(f"layer IN ({','.join('?' * len(names))})")
        params += names
    if change is not None:
        clauses.append("change = ?")
        params.append(change)
    rows = db.execute(
        f"""SELECT id, change, at, "user", layer, key, old, new, note FROM fleet_audit
            WHERE {' AND '.join(clauses) or '1 = 1'} ORDER BY id DESC LIMIT ?""",
        [*params, limit],
    )
    return [
        {"id": i, "change": c, "at": at, "user": user, "layer": layer, "key": key,
         "old": None if old is None else json.loads(old), "new": None if new is None else json.loads(new),
         "unset": new is None, "was_set": old is not None, "note": note}
        for i, c, at, user, layer, key, old, new, note in rows
    ]


def station_history(db: Database, station: str, limit: int = 1000) -> list[dict]:
    """The audit entries of every layer that reaches ``station``."""
    return history(db, layers=effective_layers(db, station), limit=limit)


def audited_layers(db: Database) -> list[Layer]:
    """Every layer that was ever changed."""
    return [parse_layer(layer) for (layer,) in db.execute("SELECT DISTINCT layer FROM fleet_audit ORDER BY layer")]


def effective_layers(db: Database, station: str) -> list[Layer]:
    row = db.execute("SELECT region, auto_registered FROM stations WHERE id = ?", [station]).fetchone()
    return station_layers(station, row[0] if row else "", registered=bool(row) and not row[1])


def chain_goals(db: Database, file_goals: GoalSettings) -> GoalSettings:
    """The goals the rollups judge by: the collector file's, with the chain layer's ``goals.*`` over them."""
    return goals(file_goals, read_layers(db).get(CHAIN, {}))
