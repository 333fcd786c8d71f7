"""Issue 16's acceptance: two ``forecourt collector`` processes on one PostgreSQL database, in one MQTT v5
shared-subscription group, each its own broker user, client id and HTTP port; 10 station processes send
10,000 events and one collector is killed with kill -9 (its ingest worker with it) at 40 % committed.

The killed collector stays down, as a dead host would. Its persistent session stays on the broker, which
goes on giving it its turn in the group (measured on Mosquitto 2.0.11: about half of what was sent after
the kill went into its queue), so the stations' resends are what bring that share in: an event the
survivor has not acknowledged is sent again after 1 s, until the survivor has stored it. Then:

1. every event is stored exactly once (each station seqs 1..1000, no duplicate, no gap left, no dead letter),
   and the survivor stored the rest while the killed collector had no session left in PostgreSQL;
2. the rollups, which both collectors computed concurrently during the run (a 1 s job interval; events
   stamped over the last 3 hours, so most hours are over and final when they compute them), equal those
   of one collector's job code run over a copy of the same rows in a fresh database, row by row;
3. the fleet-wide jobs ran in one collector at a time: every bad rating is listed on exactly one follow-up
   item and each station-day has one item (nothing in the schema forbids a second one: the advisory lock
   does); and the API answers on both collectors with the same stations, and on the survivor after the kill.

Faults fire on progress, every wait is bounded, nothing asserts on time, every process dies in ``finally``.
"""
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest

from cloud.store import utc_now
from forecourt.pgserver import database_name
from forecourt.protocol import format_ts, parse_ts
from tests.chaos_kit import REDELIVERIES_SQL, STORED_SQL, count_rows
from tests.shared_collectors_kit import (
    NAMES,
    SharedFleet,
    add_user,
    bad_ratings,
    compare_rollups,
    complaints,
    get,
    ingested,
    job_runs,
    registry_view,
    row_keys,
    scrape,
    stations,
)
from tests.waiting import wait_until

STATIONS, EVENTS = 10, 1000
RATE = 40.0  # events/s per station: 25 s of emitting
KILL_AT = 0.4  # share of all events committed in the outboxes when the victim dies
VICTIM, SURVIVOR = NAMES
RESEND_S = 1.0  # the stations' resend_after_s (doubling up to 10x while HQ stays silent)
HEALTH_S = 2  # seconds between health samples: the rollups' online time from them is compared too
# Events stamped from 3 h ago up to now, as an outbox replaying history sends them: their hours are over
# while the collectors roll them up, so the hour rows compared are the ones the collectors computed
# concurrently during the run, not ones the final run recomputes (an hour not over stays marked).
SPAN_S = 3 * 3600.0


def test_two_collectors_on_one_postgresql_store_every_event_once_through_a_kill(tmp_path, postgres_server, postgres_url):
    fleet = SharedFleet(tmp_path, postgres_url, stations=STATIONS, events=EVENTS, rate=RATE, keep_until="stored",
                        resend_after_s=RESEND_S, health_s=HEALTH_S, span_s=SPAN_S,
                        step_timeout=60.0, drain_timeout=120.0)
    reference_name = database_name("reference")
    notes: list[str] = []
    try:
        token = add_user(postgres_url)  # migrates the database before either collector opens it
        fleet.start_broker()
        for name in NAMES:
            fleet.start_named(name)  # both persistent sessions exist before any station publishes
        started = time.monotonic()
        for station in fleet.ids:
            fleet.start_station(station)

        views: dict[str, list[tuple]] = {}

        def agree() -> bool:
            views.update({name: registry_view(stations(fleet.ports[name], token)) for name in NAMES})
            return len(views[VICTIM]) == STATIONS and views[VICTIM] == views[SURVIVOR]

        assert wait_until(agree, 30, 0.5), f"the collectors' station lists differ: {views}"

        # The kill, on progress; then only the survivor is left to store anything.
        if not wait_until(lambda: fleet.share() >= KILL_AT, fleet.step_timeout):
            notes.append(f"kill fired late: only {fleet.share():.0%} committed after {fleet.step_timeout:.0f} s")
        assert fleet.sessions(VICTIM) > 0 and fleet.sessions(SURVIVOR) > 0, "PostgreSQL does not name their sessions"
        victim_figures = scrape(fleet.ports[VICTIM], token)  # its last word: a lower bound of what it stored
        share, stored_before = fleet.share(), fleet.stored()
        fleet.kill_named(VICTIM)
        killed_at, killed_utc = time.monotonic(), utc_now()
        assert wait_until(lambda: fleet.sessions(VICTIM) == 0, 30), "PostgreSQL still has the killed collector's sessions"
        stored_at_kill = fleet.stored()
        with pytest.raises(urllib.error.URLError):
            get(fleet.ports[VICTIM], "/api/v1/stations", token)
        assert [r[0] for r in registry_view(stations(fleet.ports[SURVIVOR], token))] == fleet.ids

        drain_s = fleet.drain(killed_at, notes)
        assert fleet.collectors[VICTIM].poll() is not None and fleet.sessions(VICTIM) == 0, "the killed collector came back"

        # The survivor's fleet jobs list the last bad ratings (the victim may have held their lock when it died).
        bad = bad_ratings(fleet)
        assert wait_until(lambda: fleet.query("SELECT count(*) FROM followup_ratings")[0][0] == sum(bad.values()), 30), (
            f"{fleet.query('SELECT count(*) FROM followup_ratings')[0][0]} of {sum(bad.values())} bad ratings listed")
        survivor_figures = scrape(fleet.ports[SURVIVOR], token)
        survivor_view = stations(fleet.ports[SURVIVOR], token)
        assert fleet.stop_named(SURVIVOR), "the survivor did not stop on SIGTERM"
        elapsed = time.monotonic() - started

        per_station = count_rows(fleet.query(STORED_SQL), fleet.ids, EVENTS)
        redeliveries = fleet.query(REDELIVERIES_SQL)[0][0]
        gaps = fleet.query("SELECT station, first_seq, last_seq FROM seq_gaps ORDER BY station, first_seq")
        dead = fleet.query("SELECT count(*) FROM dead_letters")[0][0]
        received = sorted(parse_ts(r) for (r,) in fleet.query("SELECT received_at FROM events"))
        items = Counter(fleet.query("SELECT station, day FROM followups"))
        alerts = fleet.query("SELECT rule, count(*) FROM alerts GROUP BY rule ORDER BY rule")
        runs = {name: job_runs(fleet.log(name)) for name in NAMES}
        logged = {name: complaints(fleet.log(name)) for name in NAMES}

        rollups = compare_rollups(postgres_url, postgres_server.create_database(reference_name), utc_now())
    finally:
        fleet.close()
        postgres_server.drop_database(reference_name)

    stored = sum(c.distinct for c in per_station.values())
    survivor_stored = ingested(survivor_figures, "stored")
    differences = rollups.differences()
    print(f"\nstored {stored:,} of {STATIONS * EVENTS:,} ({redeliveries:,} redeliveries skipped), run {elapsed:.1f} s")
    print(f"  kill -9 {VICTIM} at {share:.0%} committed (t={killed_at - started:.1f} s): {stored_before:,} stored; "
          f"{stored_at_kill:,} once its sessions were gone; drain {'-' if drain_s is None else f'{drain_s:.1f} s'}")
    print(f"  {VICTIM} stored {stored - survivor_stored:,} ({ingested(victim_figures, 'stored'):,} by its last /metrics), "
          f"{SURVIVOR} stored {survivor_stored:,} ({ingested(survivor_figures, 'duplicate'):,} duplicates skipped); "
          f"the last event stored {(received[-1] - killed_utc).total_seconds():.1f} s after the kill")
    held, away = (survivor_figures.get(f"forecourt_broker_{n}", -1) for n in ("messages_stored", "clients_disconnected"))
    print(f"  the broker at the end: {held:,.0f} messages held (the dead session's queue, retained ones included), "
          f"{away:.0f} sessions disconnected (as of its last $SYS)")
    for name in NAMES:
        print(f"  {name}: {len(runs[name])} job runs logged, {sum(r[0] for r in runs[name]):,} station-hours, "
              f"{sum(r[1] for r in runs[name])} alerts, {sum(r[2] for r in runs[name])} follow-up items opened")
    print(f"  rollups: {rollups.before} rows before the final run ({rollups.settled} hour rows settled by the collectors), "
          f"which recomputed {rollups.finished} station-hours; "
          f"reference: {rollups.copied} copied, {rollups.marked} marks, {rollups.computed} computed; "
          f"{len(rollups.reference)} rows compared, {rollups.not_identical()} not bit-identical "
          f"(largest relative difference {rollups.largest_difference():.1e})")
    print(f"  follow-ups: {sum(items.values())} items, {sum(bad.values())} bad ratings; alerts {alerts}")
    for line in notes + differences[:20] + [f"{n}: {line}" for n, lines in logged.items() for line in lines[:10]]:
        print("  " + line)

    assert logged == {name: [] for name in NAMES}, "a collector logged a failure (a batch or job run retried)"

    # 1. Every event stored exactly once, no gap left, nothing dead-lettered; the survivor alone stored the rest.
    assert stored == STATIONS * EVENTS
    assert all(c.distinct == EVENTS and not (c.duplicates or c.missing or c.unexpected) for c in per_station.values())
    assert gaps == [] and dead == 0
    assert {s: p.returncode for s, p in fleet.stations.items()} == dict.fromkeys(fleet.ids, 0), "a station did not drain"
    assert drain_s is not None
    assert stored_at_kill < stored and survivor_stored >= stored - stored_at_kill
    assert all(r["last_seen"] > format_ts(killed_utc) for r in survivor_view), "the survivor serves what it stored since"

    # 2. Both collectors rolled up during the run, and the result is one collector's over the same rows.
    assert all(any(hours for hours, _, _ in runs[name]) for name in NAMES), "a collector's jobs never rolled anything up"
    assert rollups.settled >= STATIONS, "no hour row the collectors computed is left to compare"
    assert row_keys(rollups.shared) == row_keys(rollups.reference)
    assert differences == []
    assert rollups.pending[0] == rollups.pending[1] and rollups.poisoned == (0, 0)

    # 3. Fleet-wide jobs one at a time: each bad rating listed once (waited for above), one item per station-day.
    assert items == Counter(dict.fromkeys(bad, 1))
