"""Each station's sequence bookkeeping: its high mark (``last_seq``) and the gaps of seqs HQ has not seen.

A batch's new seqs for one station are settled in memory against the station's gaps they could touch, and
the difference is written back at once: two collectors sharing a group each see every other seq of a
station, so nearly every event opens or fills a gap, and a statement per gap cost a round trip per event.
"""

from collections.abc import Sequence
from dataclasses import dataclass

Gap = tuple[int, int, str]  # first seq, last seq, detected_at


@dataclass(frozen=True)
class SeqChange:
    """What one new event's ``seq`` does to a station's record: new high mark, gap opened, seq filled."""

    last_seq: int
    gap: tuple[int, int] | None = None
    fills: int | None = None


def seq_change(last_seq: int | None, seq: int) -> SeqChange:
    """The first event seen is a baseline (the collector may start long after the station did)."""
    if last_seq is None or seq == last_seq + 1:
        return SeqChange(seq)
    if seq > last_seq + 1:
        return SeqChange(seq, gap=(last_seq + 1, seq - 1))
    return SeqChange(last_seq, fills=seq)


def split_gap(first: int, last: int, seq: int) -> list[tuple[int, int]]:
    """What remains of the gap ``first..last`` once ``seq`` arrived."""
    return [(a, b) for a, b in ((first, seq - 1), (seq + 1, last)) if a <= b]


@dataclass(frozen=True)
class Settled:
    last_seq: int | None
    removed: list[int]  # first seqs of stored gaps to delete
    added: list[Gap]  # gaps to store


def settle(last_seq: int | None, seqs: Sequence[int], held: Sequence[Gap], received: str) -> Settled:
    """The station's new high mark and gap changes once ``seqs`` (in arrival order) are stored.

    ``held`` are the stored gaps that ``seqs`` could fill: every one ending at or after the lowest of them.
    A new gap is detected at ``received``; what is left of a filled one keeps its time."""
    gaps = {gap[0]: gap for gap in held}
    before = dict(gaps)
    for seq in seqs:
        change = seq_change(last_seq, seq)
        last_seq = change.last_seq
        if change.gap:
            gaps[change.gap[0]] = (*change.gap, received)
        elif change.fills is not None:
            hit = next((gap for gap in gaps.values() if gap[0] <= seq <= gap[1]), None)
            if hit is None:
                continue  # an old seq never counted as missing (before the baseline), or a copy
            del gaps[hit[0]]
            gaps.update({a: (a, b, hit[2]) for a, b in split_gap(hit[0], hit[1], seq)})
    removed = [first for first, gap in before.items() if gaps.get(first) != gap]
    added = [gap for first, gap in gaps.items() if before.get(first) != gap]
    return Settled(last_seq, removed, added)
