"""A seeded corpus of MQTT messages for the hostile-input acceptance test (tests/test_hostile_live.py), each
with the verdict it must get: an event or health sample stored, a duplicate of one, a status change, a dead
letter (with what its reason must say) or refused by the broker (with its PUBACK reason). Pure: no I/O, time
passed in; the same seed and time give the same bytes.

Payloads are built as JSON text by hand, not through the protocol's models: a hostile payload is exactly
what the models cannot produce, and a valid one written by hand checks the codec instead of agreeing with it.
The hostile families' builders and tables are in tests/hostile_families.py.
"""

import json
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tests.hostile_families import _DROP, BROKER_FAMILIES, DEAD_FAMILIES, MAX_PAYLOAD, _ts, dumps

HOSTILE_SEQ = 1_000_000_000  # seqs that hostile payloads claim, far from the valid ones (1, 2, 3, ...)
SEQ_MAX = 2**63 - 1

# Verdicts
STORED, DUPLICATE, HEALTH, HEALTH_DUPLICATE, STATUS, DEAD, BROKER = (
    "stored", "duplicate", "health", "health duplicate", "status", "dead letter", "refused by the broker",
)
KINDS = ("rating", "cleaning", "visit", "alert", "zone")


@dataclass(frozen=True)
class Sent:
    station: str
    topic: str
    payload: bytes
    verdict: str
    family: str
    expect: str = ""  # DEAD: a piece of the dead letter's reason; BROKER: how the broker's answer begins
    key: str = ""  # the event's or health sample's id (STORED, DUPLICATE, HEALTH, HEALTH_DUPLICATE)
    seq: int | None = None  # STORED: its seq; DEAD: the seq it claims, if the storage acknowledgement can name it
    claims_health: str | None = None  # DEAD on a health topic: the id it claims, if the acknowledgement can name it
    state: str | None = None  # STATUS: the state it sets


class _Station:
    """One station's stream: valid events with seq 1, 2, 3 ... in the order they are sent, hostile ones between."""

    def __init__(self, station: str, fleet: list[str], now: datetime, rng: random.Random) -> None:
        self.station, self.now, self.rng = station, now, rng
        self.other = fleet[(fleet.index(station) + 1) % len(fleet)]
        self.hour = now.replace(minute=0, second=0, microsecond=0)  # valid data lies in the hours before this one
        self.seq = 0
        self.hostile = 0
        self.sent: list[Sent] = []

    def topic(self, tail: str) -> str:
        return f"forecourt/v1/{self.station}/{tail}"

    def new_id(self, prefix: str = "") -> str:
        return f"{prefix}{self.rng.getrandbits(96):024x}"

    def past(self, hours: float = 36) -> datetime:
        """A time in the ``hours`` before the current hour began (so every hour it lands in is over)."""
        return self.hour - timedelta(seconds=self.rng.uniform(0.001, hours * 3600))

    # -- valid ----------------------------------------------------------------------------------------

    def body(self, kind: str, *, at: datetime | None = None, seq: int | None = None, id: str | None = None) -> dict:
        rng, at = self.rng, at or self.past()
        body = {"v": 1, "id": id or self.new_id(), "seq": seq or 1, "station": self.station, "ts": _ts(at),
                "kind": kind}
        if kind == "rating":
            scale = rng.choice([3, 4, 5])
            body |= {"kiosk": rng.choice(["shop", "k1", "wc-exit"]), "location": rng.choice([None, "shop", "restroom"]),
                     "score": rng.randint(1, scale), "scale": scale, "reason": rng.choice([None, "waiting", "dirty"])}
        elif kind == "cleaning":
            body |= {"restroom": rng.choice(["ladies", "gents", "r1"]), "flag": rng.choice([None, None, "too soon"]),
                     "since_last_s": rng.choice([None, round(rng.uniform(60, 9000), 3)])}
        elif kind == "visit":
            dwell, greet = round(rng.uniform(30, 900), 3), rng.choice([None, round(rng.uniform(2, 120), 3)])
            arrived = at - timedelta(seconds=dwell)
            stopped = arrived + timedelta(seconds=5)
            body |= {"bay": rng.choice(["bay1", "bay2"]), "arrived_at": _ts(arrived), "stopped_at": _ts(stopped),
                     "greeted_at": None if greet is None else _ts(stopped + timedelta(seconds=greet)),
                     "departed_at": _ts(at), "greet_s": greet, "dwell_s": dwell, "merged_gaps": rng.randint(0, 3),
                     "occluded_s": round(rng.uniform(0, 4), 3), "min_fps": rng.choice([None, 1.5, 9.0])}
        elif kind == "alert":
            body |= {"alert": rng.choice(["restroom_overdue", "kiosk_button_stuck", "outbox_full"]),
                     "state": rng.choice(["open", "cleared"]), "subject": rng.choice([None, "ladies", "k1"]),
                     "message": rng.choice(["", "late", "overdue by 20 min"]), "value": rng.choice([None, 1200.0, -3])}
        else:
            entered = at - timedelta(seconds=rng.uniform(1, 300))
            body |= {"zone": rng.choice(["pump-1", "shop-door"]), "object_class": rng.choice(["car", "person"]),
                     "track_id": rng.randint(0, 10**6), "entered_at": _ts(entered), "exited_at": _ts(at),
                     "dwell_s": round((at - entered).total_seconds(), 3)}
        return body

    def valid(self, family: str) -> Sent:
        """A new event of ``family``: a kind, or a kind at one of the protocol's edges."""
        self.seq += 1
        kind, _, edge = family.partition("+")
        body = self.body(kind, seq=self.seq, at=self.now - timedelta(days=399) if edge == "399-days-old" else None)
        if edge == "unknown-field":  # a newer station's field: kept in the stored payload
            body["firmware_note"] = "added in 2.3"
        elif edge == "unicode":
            body["location" if kind == "rating" else "message"] = "forecourt æøå 東京 \U0001f600"
        elif edge == "int64-max":
            body["track_id"] = SEQ_MAX
        elif edge == "16KiB":  # exactly the payload limit, padded by an unknown field
            body["pad"] = ""
            body["pad"] = "p" * (MAX_PAYLOAD - len(dumps(body)))
        return self._add(self.topic(f"event/{kind}"), dumps(body), STORED, family, key=body["id"], seq=self.seq)

    def health(self) -> Sent:
        rng = self.rng
        body = {"v": 1, "id": self.new_id("h"), "station": self.station, "ts": _ts(self.past(24)), "version": "1.4.2",
                "uptime_s": round(rng.uniform(0, 3600), 3), "outbox_depth": rng.randint(0, 50),
                "camera_fps": rng.choice([None, 7.5, 12.0]), "filtered_presses": {"k1": rng.randint(0, 9)}}
        return self._add(self.topic("health"), dumps(body), HEALTH, "health", key=body["id"])

    def status(self, state: str) -> Sent:
        """Not kept in the stream ``resend`` draws from: :func:`corpus` places statuses itself."""
        body = {"state": state}
        if state == "online":
            body |= {"version": "1.4.2", "config_hash": "cfg-live", "started_at": _ts(self.past(1))}
        return Sent(self.station, self.topic("status"), dumps(body), STATUS, f"status {state}", state=state)

    def resend(self, verdict: str) -> Sent | None:
        """An exact copy of an earlier message of this station that got ``verdict``."""
        earlier = [s for s in self.sent if s.verdict == verdict]
        if not earlier:
            return None
        first = self.rng.choice(earlier)
        again = {STORED: DUPLICATE, HEALTH: HEALTH_DUPLICATE, DEAD: DEAD}[verdict]
        family = first.family if verdict == DEAD else f"resent {verdict}"
        sent = replace(first, verdict=again, family=family, seq=first.seq if verdict == DEAD else None)
        self.sent.append(sent)
        return sent

    # -- hostile --------------------------------------------------------------------------------------

    def dead(self, family: str) -> Sent:
        """A payload the collector must refuse, on a topic the broker lets through."""
        self.hostile += 1  # the seq that marked() bodies claim from here on
        builder, expect = DEAD_FAMILIES[family]
        topic, payload, claims = builder(self)
        channel = topic.split("/")[3]
        seq = HOSTILE_SEQ + self.hostile if claims and channel == "event" else None
        health_id = self._claimed_health(payload) if channel == "health" else None
        return self._add(topic, payload, DEAD, family, expect=expect, seq=seq, claims_health=health_id)

    def broker_refused(self, family: str) -> Sent:
        builder, expect = BROKER_FAMILIES[family]
        topic, payload = builder(self)
        return self._add(topic, payload, BROKER, family, expect=expect)

    def marked(self, kind: str = "rating", **changes: object) -> dict:
        """A valid-looking event body with a fresh id (so its dead letter can be told from the others)."""
        body = self.body(kind, seq=HOSTILE_SEQ + self.hostile)
        body.update(changes)
        return {k: v for k, v in body.items() if v is not _DROP}

    @staticmethod
    def _claimed_health(payload: bytes) -> str | None:
        try:
            body = json.loads(payload)
        except ValueError:
            return None
        value = body.get("id") if isinstance(body, dict) else None
        return value if isinstance(value, str) and 8 <= len(value) <= 64 else None

    def _add(self, topic: str, payload: bytes, verdict: str, family: str, **details: object) -> Sent:
        sent = Sent(self.station, topic, payload, verdict, family, **details)
        self.sent.append(sent)
        return sent


def oversize(station: str, *, now: datetime, seed: int = 15) -> list[Sent]:
    """Payloads over the 16 KiB limit, each to be sent on a connection of its own: none gets a PUBACK.

    Over ``message_size_limit`` but under ``max_packet_size``, Mosquitto 2.0.11 drops the message and answers
    with reason 0x95 "Packet too large", which MQTT 5 does not allow in a PUBACK: paho 2.2 calls the packet
    malformed and closes the connection ("Protocol error"), and would send the message again on every
    reconnection. Over ``max_packet_size`` the broker closes the connection itself (its DISCONNECT says "Packet
    too large", if paho reads it before the closed socket fails its write), and logs that it did.
    """
    st = _Station(station, [station], now, random.Random(seed))
    sent = []
    paho_closes, broker_closes = "disconnected: Protocol error", "disconnected: "
    for extra, family, expect in ((1, "payload over 16 KiB", paho_closes), (600, "payload over 16 KiB", paho_closes),
                                  (2048, "packet over max_packet_size", broker_closes),
                                  (20_000, "packet over max_packet_size", broker_closes)):
        body = st.marked()
        body["pad"] = ""
        body["pad"] = "p" * (MAX_PAYLOAD + extra - len(dumps(body)))
        sent.append(Sent(station, st.topic("event/rating"), dumps(body), BROKER, family, expect=expect))
    return sent


VALID_FAMILIES = (*KINDS, "rating+unknown-field", "alert+unicode", "rating+unicode", "zone+int64-max",
                  "cleaning+399-days-old", "visit+16KiB")

# Shares of a station's stream after every family has appeared once (statuses are extra: 4 a station).
MIX = ((STORED, 0.50), (DUPLICATE, 0.10), (HEALTH, 0.04), (HEALTH_DUPLICATE, 0.01), (DEAD, 0.27), ("resent dead", 0.02),
       (BROKER, 0.06))


def corpus(stations: list[str], *, now: datetime, per_station: int, seed: int = 15) -> list[Sent]:
    """Every station's stream, interleaved round-robin (so each batch the collector takes mixes stations).

    A stream opens with every family once, in a shuffled order, then draws from :data:`MIX`. Four statuses
    are added to each, evenly spaced, alternating online / offline and ending offline: each one changes the
    state, so each leaves one row in ``status_log`` (a repeated state is idempotent and leaves none).
    """
    rng = random.Random(seed)
    streams = []
    for station in stations:
        st = _Station(station, stations, now, rng)
        opening = ([(STORED, f) for f in VALID_FAMILIES] + [(DEAD, f) for f in DEAD_FAMILIES]
                   + [(BROKER, f) for f in BROKER_FAMILIES] + [(HEALTH, "health")])
        rng.shuffle(opening)
        while len(st.sent) < per_station:
            verdict, family = opening.pop() if opening else _draw(rng)
            _emit(st, verdict, family)
        stream = list(st.sent)
        for i, state in reversed(list(enumerate(["online", "offline", "online", "offline"]))):
            stream.insert(per_station * i // 4, st.status(state))
        streams.append(stream)
    return [s for column in _round_robin(streams) for s in column]


def _draw(rng: random.Random) -> tuple[str, str]:
    verdict = rng.choices([v for v, _ in MIX], weights=[w for _, w in MIX])[0]
    if verdict == STORED:
        return verdict, rng.choice(KINDS) if rng.random() < 0.95 else rng.choice(VALID_FAMILIES)
    if verdict == DEAD:
        return verdict, rng.choice(list(DEAD_FAMILIES))
    if verdict == BROKER:
        return verdict, rng.choice(list(BROKER_FAMILIES))
    return verdict, ""


def _emit(st: _Station, verdict: str, family: str) -> None:
    if verdict == STORED:
        st.valid(family)
    elif verdict == HEALTH:
        st.health()
    elif verdict == DEAD:
        st.dead(family)
    elif verdict == BROKER:
        st.broker_refused(family)
    elif st.resend({DUPLICATE: STORED, HEALTH_DUPLICATE: HEALTH, "resent dead": DEAD}[verdict]) is None:
        st.valid(st.rng.choice(KINDS))  # nothing of that verdict sent yet: a new event instead


def _round_robin(streams: list[list[Sent]]) -> list[list[Sent]]:
    longest = max(len(s) for s in streams)
    return [[s[i] for s in streams if i < len(s)] for i in range(longest)]
