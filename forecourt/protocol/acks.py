"""Storage acknowledgements: HQ tells a station which of its messages it has stored, so the station's outbox
can forget them. A broker's PUBACK only says the broker took a message; this says the collector committed it.

On ``forecourt/v1/<station>/ack``, QoS 1, never retained, published by a collector after each commit:

    {"v": 1, "station": "a", "ts": "2026-12-03T09:00:00.123Z",
     "stored": [[1, 250], [252, 260]],          # event seqs HQ holds (stored now or before), inclusive ranges
     "rejected": [{"seq": 251, "reason": "..."}],  # seqs HQ will never store (dead letters), with why
     "health": ["3f2c..."]}                      # health sample ids HQ holds

Acknowledgements are idempotent and may repeat, overlap or arrive out of order: a station deletes what
they name and ignores what it no longer has. Pure: no I/O; time is passed in.
"""

import json
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from forecourt.errors import ProtocolError
from forecourt.protocol.codec import MAX_PAYLOAD_BYTES, _json_object, _validate
from forecourt.protocol.messages import VERSION, Message, StationId, Timestamp, Version, _require, format_ts
from forecourt.protocol.topics import ack_topic, parse_topic

SEQ_MAX = 2**63 - 1  # SQLite's INTEGER: a seq beyond it can never be stored, so it is never acknowledged as such
REASON_CHARS = 300  # a reason is for a log line on the Pi, not a report
Seq = Annotated[int, Field(ge=1, le=SEQ_MAX)]
SeqRange = Annotated[list[Seq], Field(min_length=2, max_length=2, description="[first, last], inclusive")]
HealthId = Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class Rejected(Message):
    seq: Seq
    reason: str = Field(max_length=REASON_CHARS, description="Why HQ will never store it (the dead letter's reason)")


class StorageAck(Message):
    model_config = ConfigDict(json_schema_extra=_require("v"))
    v: Version = Field(VERSION, description="Schema major version")
    station: StationId
    ts: Timestamp = Field(description="When the collector committed what this acknowledges")
    stored: list[SeqRange] = Field(default_factory=list, description="Event seqs HQ holds, as inclusive ranges")
    rejected: list[Rejected] = Field(default_factory=list, description="Event seqs HQ refused for good, with the reason")
    health: list[HealthId] = Field(default_factory=list, description="Health sample ids HQ holds")

    @model_validator(mode="after")
    def _ranges_in_order(self) -> "StorageAck":
        for first, last in self.stored:
            if first > last:
                raise ValueError(f"stored range [{first}, {last}] ends before it starts")
        return self

    def stored_seqs(self) -> Iterator[int]:
        for first, last in self.stored:
            yield from range(first, last + 1)


def seq_ranges(seqs: Iterable[int]) -> list[list[int]]:
    """``[1, 2, 3, 5, 3]`` -> ``[[1, 3], [5, 5]]``: sorted, de-duplicated, consecutive runs joined."""
    ranges: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


def build_acks(
    station: str,
    *,
    stored: Iterable[int] = (),
    rejected: dict[int, str] | None = None,
    health: Iterable[str] = (),
    now: datetime,
    max_bytes: int = MAX_PAYLOAD_BYTES,
) -> list[StorageAck]:
    """One or more acknowledgements covering everything given, each encoding to at most ``max_bytes``.

    Seqs HQ both stored and rejected (a duplicate of a stored event that failed validation) are stored.
    """
    ranges = seq_ranges(stored)
    refusals = [
        Rejected(seq=seq, reason=reason[:REASON_CHARS])
        for seq, reason in sorted((rejected or {}).items())
        if 1 <= seq <= SEQ_MAX and not _in_ranges(seq, ranges)
    ]
    ids = list(dict.fromkeys(health))
    items: list[tuple[str, object]] = [("stored", r) for r in ranges] + [("rejected", r) for r in refusals] + [("health", i) for i in ids]
    if not items:
        return []
    ts = format_ts(now)
    acks: list[StorageAck] = []
    start = 0
    while start < len(items):
        # Greedy by size estimate, then halve until it fits: an ack is a few hundred bytes in practice.
        end = min(len(items), start + max(1, (max_bytes - 200) // 48))
        while True:
            ack = _assemble(station, ts, items[start:end])
            if len(encode_ack(ack)[1]) <= max_bytes or end - start == 1:
                break
            end = start + (end - start) // 2
        acks.append(ack)
        start = end
    return acks


def _in_ranges(seq: int, ranges: list[list[int]]) -> bool:
    i = bisect_right(ranges, [seq, SEQ_MAX + 1]) - 1
    return i >= 0 and ranges[i][0] <= seq <= ranges[i][1]


def _assemble(station: str, ts: str, items: list[tuple[str, object]]) -> StorageAck:
    parts: dict[str, list] = {"stored": [], "rejected": [], "health": []}
    for name, item in items:
        parts[name].append(item)
    return StorageAck(station=station, ts=ts, **parts)


def encode_ack(ack: StorageAck) -> tuple[str, bytes]:
    payload = ack.model_dump(mode="json")
    return ack_topic(ack.station), json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def decode_ack(topic: str, payload: bytes, *, station: str) -> StorageAck:
    """What a station accepts as its acknowledgement: its own ack topic, a valid body naming it."""
    where = parse_topic(topic)
    if where.channel != "ack" or where.station != station:
        raise ProtocolError(f"topic {topic!r} is not {ack_topic(station)}")
    ack = _validate(StorageAck, _json_object(payload))
    if ack.station != station:  # type: ignore[attr-defined]
        raise ProtocolError(f"acknowledgement for station {ack.station!r} arrived on {topic}")  # type: ignore[attr-defined]
    return ack  # type: ignore[return-value]
