"""A station's seq gaps settled a batch at a time (cloud/sequence.py), as two collectors sharing a group see
them: every other seq, out of order, copies included."""

import random

import pytest

from cloud.sequence import settle

AT, LATER = "2026-11-06T10:00:00.000Z", "2026-11-06T10:05:00.000Z"


def test_a_first_batch_is_the_baseline_and_later_gaps_are_opened_and_filled():
    first = settle(None, [5, 6, 9], [], AT)
    assert (first.last_seq, first.removed, first.added) == (9, [], [(7, 8, AT)])
    # 8 arrives later: what is left of the gap keeps the time it was detected.
    second = settle(9, [8, 12], [(7, 8, AT)], LATER)
    assert (second.last_seq, second.removed, sorted(second.added)) == (12, [7], [(7, 7, AT), (10, 11, LATER)])


def test_a_seq_below_the_baseline_or_a_copy_changes_nothing():
    done = settle(9, [3, 9], [], LATER)
    assert (done.last_seq, done.removed, done.added) == (9, [], [])


def test_filling_the_middle_of_a_gap_splits_it():
    done = settle(20, [14], [(11, 19, AT)], LATER)
    assert (done.removed, sorted(done.added)) == ([11], [(11, 13, AT), (15, 19, AT)])


def missing(gaps: dict[int, tuple[int, int, str]]) -> set[int]:
    return {seq for first, last, _ in gaps.values() for seq in range(first, last + 1)}


@pytest.mark.parametrize("seed", range(20))
def test_batches_of_shuffled_seqs_leave_exactly_the_unseen_ones_missing(seed):
    rng = random.Random(seed)
    seqs = list(range(1, 301))
    rng.shuffle(seqs)  # as two collectors' batches interleave them, and a resend repeats some
    seqs += rng.sample(seqs, 30)
    gaps: dict[int, tuple[int, int, str]] = {}
    last, seen, baseline = None, set(), seqs[0]
    while seqs:
        size = rng.randint(1, 40)
        batch, seqs = seqs[:size], seqs[size:]
        low = min(batch)
        held = [gap for gap in gaps.values() if gap[1] >= low]
        done = settle(last, batch, held, AT)
        for first in done.removed:
            del gaps[first]
        gaps.update({gap[0]: gap for gap in done.added})
        last, seen = done.last_seq, seen | set(batch)
        assert missing(gaps) == {s for s in range(baseline, last + 1) if s not in seen}
        assert all(a <= b for a, b, _ in gaps.values())
    assert last == 300
