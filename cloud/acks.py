"""What the collector tells each station after a commit: which of its messages HQ now holds or refused.

The station keeps every event until it hears this (forecourt/protocol/acks.py), so every message that
reached a verdict is answered: stored, a duplicate of one stored before, or a dead letter. A dead letter
is answered by the ``seq`` it claims, read leniently from its payload, so one bad event never stays in
an outbox for ever; a payload too broken to name its seq cannot be answered, and a station's own outbox
never produces one (it validates every event before storing it). Pure: no I/O.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime

from forecourt.errors import ProtocolError
from forecourt.protocol import MAX_PAYLOAD_BYTES, StorageAck, build_acks, parse_topic
from forecourt.protocol.acks import SEQ_MAX


@dataclass
class StationAcks:
    """One station's verdicts in one batch."""

    stored: list[int] = field(default_factory=list)  # seqs held (new or duplicate)
    rejected: dict[int, str] = field(default_factory=dict)  # seq -> dead-letter reason
    health: list[str] = field(default_factory=list)  # health ids done with (held or refused)

    def merge(self, other: "StationAcks") -> None:
        self.stored += other.stored
        self.rejected.update(other.rejected)
        self.health += other.health


@dataclass
class AckBook:
    """Verdicts per station, collected while a batch is written; turned into messages after its commit."""

    stations: dict[str, StationAcks] = field(default_factory=dict)

    def _of(self, station: str) -> StationAcks:
        return self.stations.setdefault(station, StationAcks())

    def stored(self, station: str, seq: int) -> None:
        self._of(station).stored.append(seq)

    def health(self, station: str, health_id: str) -> None:
        self._of(station).health.append(health_id)

    def dead_letter(self, topic: str, payload: bytes, reason: str) -> None:
        """Answer a refused message by what it claims to be, if it names that clearly enough."""
        try:
            sender = parse_topic(topic)
        except (ProtocolError, TypeError):
            return
        if sender.channel not in ("event", "health"):
            return
        claimed = _claimed(payload)
        if sender.channel == "health":
            if isinstance(claimed.get("id"), str) and 8 <= len(claimed["id"]) <= 64:
                self.health(sender.station, claimed["id"])
            return
        seq = claimed.get("seq")
        if type(seq) is int and 1 <= seq <= SEQ_MAX:
            self._of(sender.station).rejected[seq] = reason

    def merge(self, other: "AckBook") -> None:
        for station, acks in other.stations.items():
            self._of(station).merge(acks)

    def messages(self, *, now: datetime) -> list[StorageAck]:
        return [
            ack
            for station, acks in sorted(self.stations.items())
            for ack in build_acks(station, stored=acks.stored, rejected=acks.rejected, health=acks.health, now=now)
        ]


def _claimed(payload: bytes) -> dict:
    """The payload's top-level fields if it is a JSON object; {} for anything else (never raises)."""
    if not isinstance(payload, bytes | bytearray) or len(payload) > MAX_PAYLOAD_BYTES:
        return {}
    try:
        body = json.loads(bytes(payload).decode("utf-8"))
    except (ValueError, RecursionError):
        return {}
    return body if isinstance(body, dict) else {}
