"""The rollout of fleet configuration, read side: per station, the rev HQ wants it to run, what it last
reported, and where that leaves it (applied, rejected with its reasons, pending while online or offline).
Scoped like every read (cloud.queries.scope_sql); the documents and states are cloud/fleet_store.py's."""

import json

from cloud.auth import Scope
from cloud.database import Database
from cloud.fleet_config import rollout_state
from cloud.queries import scope_sql


def rollout(db: Database, scope: Scope) -> list[dict]:
    """Per station in ``scope``: the rev HQ wants, what it reported, and where that leaves it
    (cloud.fleet_config.rollout_state), with the reasons of a rejection."""
    where, params = scope_sql(scope)
    rows = db.execute(
        f"""SELECT s.id, s.name, s.region, s.status, d.rev, d.hash, d.issued_at, f.rev, f.hash, f.state, f.errors,
                   f.applied_rev, f.restart_needed, f.at, f.received_at
            FROM stations s
            LEFT JOIN fleet_documents d ON d.id = (SELECT max(id) FROM fleet_documents WHERE station = s.id)
            LEFT JOIN fleet_states f ON f.station = s.id
            WHERE {where} ORDER BY s.region, s.id""",
        params,
    )
    out = []
    for (station, name, region, status, rev, digest, issued, s_rev, s_hash, s_state, errors, applied, restart, at,
         received) in rows:
        desired = None if rev is None else (rev, digest)
        reported = None if s_rev is None else (s_rev, s_hash, s_state)
        out.append({
            "station": station, "name": name, "region": region, "status": status, "desired_rev": rev,
            "issued_at": issued, "reported_rev": s_rev, "state": s_state, "applied_rev": applied,
            "errors": json.loads(errors) if errors else [], "restart_needed": json.loads(restart) if restart else [],
            "at": at, "received_at": received, "rollout": rollout_state(desired, reported, status == "online"),
        })
    return out
