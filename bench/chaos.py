"""Events stored through kill -9 faults, counted from the collector's SQLite: the product next to the old behaviour.

    .venv/bin/python bench/chaos.py [--stations 10 --events 1000 --seeds 1 --keep-until stored puback]

Each run starts a private Mosquitto (persistence as generated), N station processes and ``forecourt
collector`` (tests/chaos_kit.py) and plays issue 14's full schedule by progress: 6 broker kills (two only
after the broker has lived past its autosave_interval, three sooner, one while the collector is down),
3 station kills mid-burst and 1 collector kill. A broker whose autosave_interval is beyond a run (the
shipped one saves every 1,800 s) gets every kill before any autosave instead. Runs cover both subscription
modes (shared group, plain) for each ``--keep-until``: ``stored`` (the station keeps an event until the
collector acknowledges storing it) is the subject, ``puback`` (delete on the broker's PUBACK) the
baseline, on the same schedule and seed. Both resend after ``--resend-after`` s what the broker answered "no matching subscribers" (reason 16);
``legacy`` drives a checkout from before storage acknowledgements (no such keys; reason 16 counted as sent).

Figures: events stored of those committed, lost, duplicates (a seq stored twice), redeliveries the
collector skipped, and drain time (last fault -> every station exited 0 and every event stored; "-" when
that never happened). Counts are exact, not sampled; only drain time depends on the machine's load.
"""

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.chaos_kit import Chaos  # noqa: E402
from tests.chaos_schedule import compressed_schedule, full_schedule  # noqa: E402

MODES = {"shared-group": "forecourt", "plain": ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stations", type=int, default=10)
    parser.add_argument("--events", type=int, default=1000, help="events per station")
    parser.add_argument("--seeds", type=int, default=1, help="runs per mode; the seed picks which stations are killed")
    parser.add_argument("--keep-until", nargs="+", default=["stored", "puback"], choices=["stored", "puback", "legacy"],
                        help="legacy: write no keep_until key (code from before storage acknowledgements)")
    parser.add_argument("--rate", type=float, default=None,
                        help="events/s per station (default: the burst lasts ~120 s full, ~25 s compressed)")
    parser.add_argument("--resend-after", type=float, default=3.0, help="station outbox.resend_after_s")
    parser.add_argument("--schedule", choices=["full", "compressed"], default="full",
                        help="compressed: CI's schedule (every broker kill before any autosave)")
    parser.add_argument("--verbose", action="store_true", help="print each fault and each lost run of seqs")
    args = parser.parse_args()
    rate = args.rate or args.events / (120 if args.schedule == "full" else 25)
    total = args.stations * args.events
    print(f"chaos: {args.stations} stations x {args.events:,} events at {rate:.0f}/s each, {args.schedule} schedule, "
          f"seeds 0..{args.seeds - 1}, resend_after_s {args.resend_after}", flush=True)
    rows = []
    for seed in range(args.seeds):
        for keep in args.keep_until:
            for mode, group in MODES.items():
                stations = args.stations
                with tempfile.TemporaryDirectory(prefix="forecourt-chaos-") as tmp:
                    chaos = Chaos(Path(tmp), stations=stations, events=args.events, rate=rate, share_group=group,
                                  keep_until=None if keep == "legacy" else keep,
                                  resend_after_s=None if keep == "legacy" else args.resend_after)
                    autosave = chaos.autosave_s()
                    schedule = (full_schedule(stations, seed, autosave_s=autosave) if args.schedule == "full"
                                else compressed_schedule(stations, seed))
                    if not rows and args.schedule == "full" and not any(s.min_uptime_s for s in schedule.steps()):
                        print(f"autosave_interval {autosave} s is beyond a bench run: every broker kill comes before "
                              "any autosave", file=sys.stderr, flush=True)
                    run = f"{keep}, {mode}, seed {seed}"
                    try:
                        outcome = chaos.run(schedule)
                    except Exception as err:  # a run that could not start says so in its row; the others go on
                        print(f"{run}: failed: {err}", file=sys.stderr, flush=True)
                        rows.append((run, "failed", "-", "-", "-", "-"))
                        continue
                drain = "-" if outcome.drain_s is None else f"{outcome.drain_s:.1f}"
                rows.append((run, outcome.stored, outcome.lost, outcome.duplicates, outcome.redeliveries, drain))
                print(f"{run}: stored {outcome.stored:,} of {total:,}, lost {outcome.lost}, run {outcome.elapsed_s:.0f} s",
                      file=sys.stderr, flush=True)
                if args.verbose:
                    for r in outcome.faults:
                        up = f" broker up {r.broker_uptime_s:.1f} s" if r.broker_uptime_s is not None else ""
                        print(f"  {r.action} {r.target} at {r.share:.0%} t={r.t:.1f} s{up}", file=sys.stderr)
                    for line in outcome.notes + outcome.losses():
                        print(f"  {line}", file=sys.stderr)
    print(flush=True)
    print(f"| run | stored of {total:,} | lost | duplicates | redeliveries | drain s |")
    print("|---|---|---|---|---|---|")
    for run, stored, lost, dups, redeliveries, drain in rows:
        print(f"| {run} | {stored:,} | {lost:,} | {dups} | {redeliveries:,} | {drain} |" if stored != "failed"
              else f"| {run} | failed | - | - | - | - |")


if __name__ == "__main__":
    main()
