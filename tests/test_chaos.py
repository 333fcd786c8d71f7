"""Issue 14's acceptance, compressed for CI: 10 stations x 1,000 events through 6 broker kills (one while the
collector is down), 3 station kills and a collector kill, all kill -9; every event is stored exactly once.

Both subscription modes: a shared group (Mosquitto 2.0.11 forgets it across a restart) and a plain one.
The stations keep each event until the collector acknowledges storing it and resend after 2 s.
"""

import pytest

from tests.chaos_kit import Chaos
from tests.chaos_schedule import compressed_schedule

STATIONS = 10
EVENTS = 1000


@pytest.mark.parametrize("share_group", ["forecourt", ""], ids=["shared-group", "plain"])
def test_every_event_is_stored_once_through_broker_station_and_collector_kills(tmp_path, share_group):
    schedule = compressed_schedule(STATIONS, seed=14)
    assert (schedule.count("kill_broker"), schedule.count("kill_station"), schedule.count("kill_collector")) == (6, 3, 1)
    chaos = Chaos(tmp_path, stations=STATIONS, events=EVENTS, rate=40.0, share_group=share_group,
                  keep_until="stored", resend_after_s=2.0)
    outcome = chaos.run(schedule)

    print(f"\n{share_group or 'plain'}: stored {outcome.stored:,} of {outcome.expected:,}, lost {outcome.lost}, "
          f"{outcome.duplicates} duplicates, {outcome.redeliveries} redeliveries skipped, drain "
          f"{'-' if outcome.drain_s is None else f'{outcome.drain_s:.1f} s'}, run {outcome.elapsed_s:.1f} s")
    for record in outcome.faults:
        print(f"  {record.action:<16}{record.target:<6} at {record.share:4.0%} (planned {record.planned:.0%}), "
              f"t={record.t:5.1f} s" + (f", broker up {record.broker_uptime_s:.1f} s" if record.broker_uptime_s else ""))
    for line in outcome.notes + outcome.losses()[:20]:
        print("  " + line)

    # The schedule really was chaos: kills before any autosave, station kills while that station emitted.
    quick = [r for r in outcome.faults if r.action == "kill_broker" and r.broker_uptime_s < outcome.autosave_s]
    assert len(quick) >= 2
    assert all(r.committed[r.target] < EVENTS for r in outcome.faults if r.action == "kill_station"), "killed after its burst"

    assert outcome.losses() == []
    assert outcome.stored == STATIONS * EVENTS
    assert outcome.duplicates == 0
    assert all(c.distinct == EVENTS and not c.missing and not c.unexpected for c in outcome.per_station.values())
    assert outcome.exits == dict.fromkeys(chaos.ids, 0), "a station did not drain its outbox"
    assert outcome.drain_s is not None
