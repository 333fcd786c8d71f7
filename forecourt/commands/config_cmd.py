"""Fleet configuration from HQ: settings for the chain, a region or one station, sent to every station they
reach as a new revision of its settings document (docs/INSTALL.md, "Fleet configuration").

  forecourt config set --region north restrooms.interval_min=60 --by alice
  forecourt config unset --station oslo-1 restrooms.gents.interval_min --by alice
  forecourt config show --station oslo-1      # effective settings, the layer of each, the rev
  forecourt config status --region north      # per station: desired and applied rev, state, errors
  forecourt config history --station oslo-1   # who changed what and when
  forecourt config rollback 42 --by alice     # the layer of entry 42 as it was right after it (--before: before it)

Values are JSON when they parse as JSON (60 is a number, true a boolean, null the field's default) and
text otherwise (06:00-22:00). Keys: log_level, restrooms[.<id>].<field>, kiosks[.<id>].<field>,
zones[.<id>].<field>, and on the chain only goals.<field> (HQ's own goals, never sent to a station).
A refused key or value changes nothing; the message names the key."""

import argparse
import getpass
import json
import sys


def _layer_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    where = parser.add_mutually_exclusive_group(required=required)
    where.add_argument("--chain", action="store_true", help="the whole chain")
    where.add_argument("--region", help="a region path, e.g. north/leeds (and every station below it)")
    where.add_argument("--station", help="one station id")


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    change = sub.add_parser("set", help="set KEY=VALUE settings in one layer")
    change.add_argument("assignments", nargs="+", metavar="KEY=VALUE")
    unset = sub.add_parser("unset", help="remove settings from one layer (the layer above, or the file, applies again)")
    unset.add_argument("keys", nargs="+", metavar="KEY")
    show = sub.add_parser("show", help="a station's effective settings, or a layer's (every layer when none is named)")
    status = sub.add_parser("status", help="per station: desired rev, applied rev, state, online or offline, errors")
    status.add_argument("--region", help="only stations in this region")
    history = sub.add_parser("history", help="the audit trail, newest first")
    history.add_argument("--limit", type=int, default=50, help="entries shown (default 50)")
    back = sub.add_parser("rollback", help="put a layer back to its values at an audit entry, as a new change")
    back.add_argument("entry", type=int, help="an audit entry's number (`forecourt config history`)")
    back.add_argument("--before", action="store_true", help="its values just before that entry instead (undo it)")
    for child in (change, unset):
        _layer_options(child, required=True)
    for child in (show, history):
        _layer_options(child, required=False)
    for child in (change, unset, back):
        child.add_argument("--by", default=None, help="who makes the change, for the audit trail (default: your login name)")
    for child in (change, unset, show, status, history, back):
        child.add_argument("--config", default=None, help="collector TOML (for the database path)")
        child.add_argument("--database", default=None, help="SQLite database file or postgresql:// URL (overrides the config)")


def _layer(args: argparse.Namespace):
    from cloud.fleet_config import CHAIN, parse_layer

    if getattr(args, "region", None):
        return parse_layer(f"region:{args.region}")
    if getattr(args, "station", None):
        return parse_layer(f"station:{args.station}")
    return CHAIN if getattr(args, "chain", False) else None


def _shown(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _entry_line(e: dict) -> list[str]:
    change = f"{_shown(e['old']) if e['was_set'] else '(unset)'} -> {'(unset)' if e['unset'] else _shown(e['new'])}"
    return [f"#{e['id']}", e["at"], e["user"], e["layer"], e["key"], change, e["note"]]


def _report(change) -> None:
    for entry in reversed(change.entries):
        print("  ".join(part for part in _entry_line(entry) if part))
    if not change.entries:
        print("nothing changed: the layer already holds those values")
    revs = sorted({rev for _, rev in change.issued})
    print(f"{len(change.issued)} station(s) get a new settings rev" + (f" ({', '.join(map(str, revs))})" if revs else ""))


def _show(db, layer) -> None:
    from cloud.fleet_store import effective, layer_rows

    if layer is not None and layer.kind == "station":
        found = effective(db, layer.name)
        print(f"station {found['station']} (region {found['region'] or '-'}), settings rev {found['rev'] or 'none'}; "
              f"layers: {' > '.join(found['layers'])}")
        rows = [[key, _shown(s["value"]), s["layer"] + ("" if s["sent"] else " (HQ's own, not sent)")]
                for key, s in found["settings"].items()]
        if not rows:
            print("no settings from HQ: the station runs by its file")
            return
        _table([["KEY", "VALUE", "FROM"], *rows])
        return
    rows = [[r["layer"], r["key"], _shown(r["value"]), r["set_by"], r["set_at"]]
            for r in layer_rows(db, None if layer is None else [layer])]
    if rows:
        _table([["LAYER", "KEY", "VALUE", "SET BY", "AT"], *rows])
    else:
        print("no settings")


def _status(db, region: str | None) -> None:
    from collections import Counter

    from cloud.auth import Scope
    from cloud.fleet_rollout import rollout
    from cloud.registry import normalise_region

    rows = rollout(db, Scope(region=normalise_region(region or "")))
    lines = [["STATION", "REGION", "LINK", "DESIRED", "APPLIED", "STATE", "ERRORS"]]
    for r in rows:
        errors = "; ".join(f"{e['path']}: {e['message']}" for e in r["errors"])
        lines.append([r["station"], r["region"] or "-", r["status"], str(r["desired_rev"] or "-"),
                      str(r["applied_rev"] if r["applied_rev"] is not None else "-"), r["rollout"], errors])
    _table(lines)
    tally = Counter(r["rollout"] for r in rows)
    print(", ".join(f"{n} {state.replace('_', ' ')}" for state, n in sorted(tally.items())) or "no stations")


def run(args: argparse.Namespace) -> int:
    from cloud.fleet_config import FleetError, parse_assignment
    from cloud.fleet_store import change_settings, history, rollback, station_history
    from cloud.store import open_db, utc_now
    from forecourt.commands.users import database_path

    db = open_db(database_path(args))
    by = getattr(args, "by", None) or getpass.getuser()
    try:
        layer = _layer(args)
        if args.action == "set":
            _report(change_settings(db, layer, values=dict(map(parse_assignment, args.assignments)), by=by, now=utc_now()))
        elif args.action == "unset":
            _report(change_settings(db, layer, unset=args.keys, by=by, now=utc_now()))
        elif args.action == "rollback":
            _report(rollback(db, args.entry, by=by, now=utc_now(), before=args.before))
        elif args.action == "show":
            _show(db, layer)
        elif args.action == "status":
            _status(db, args.region)
        else:
            found = (station_history(db, layer.name, args.limit) if layer is not None and layer.kind == "station"
                     else history(db, layers=None if layer is None else [layer], limit=args.limit))
            if found:
                _table([["ENTRY", "AT", "BY", "LAYER", "KEY", "CHANGE", "NOTE"], *map(_entry_line, found)])
            else:
                print("no changes yet")
    except (FleetError, ValueError) as err:
        print(f"forecourt config: {err}", file=sys.stderr)
        return 2
    finally:
        db.close()
    return 0
