"""Wire protocol v1, shared by the edge and the cloud. Pure: encode, decode, validate; no I/O.

See docs/PROTOCOL.md for the contract.
"""

from forecourt.protocol.acks import Rejected, StorageAck, build_acks, decode_ack, encode_ack, seq_ranges
from forecourt.protocol.codec import MAX_PAYLOAD_BYTES, decode, describe, encode
from forecourt.protocol.messages import (
    EVENT_KINDS,
    VERSION,
    Alert,
    Cleaning,
    Event,
    Health,
    Message,
    Rating,
    Status,
    Visit,
    ZoneDwell,
    format_epoch,
    format_ts,
    new_id,
    parse_ts,
)
from forecourt.protocol.topics import (
    DOWNLINK,
    ROOT,
    STATION_ID,
    UPLINK,
    Topic,
    ack_topic,
    check_station_id,
    config_topic,
    event_topic,
    health_topic,
    parse_topic,
    station_filter,
    status_topic,
)

__all__ = [
    "DOWNLINK", "EVENT_KINDS", "MAX_PAYLOAD_BYTES", "ROOT", "STATION_ID", "UPLINK", "VERSION",
    "Alert", "Cleaning", "Rejected", "StorageAck", "build_acks", "decode_ack", "encode_ack", "seq_ranges", "Event", "Health", "Message", "Rating", "Status", "Topic", "Visit", "ZoneDwell",
    "ack_topic", "check_station_id", "config_topic", "decode", "describe", "encode", "event_topic", "format_epoch", "format_ts",
    "health_topic", "new_id", "parse_topic", "parse_ts", "station_filter", "status_topic",
]
