"""Wire protocol v1, shared by the edge and the cloud. Pure: encode, decode, validate; no I/O.

See docs/PROTOCOL.md for the contract.
"""

from forecourt.protocol.acks import Rejected, StorageAck, build_acks, decode_ack, encode_ack, seq_ranges
from forecourt.protocol.codec import MAX_PAYLOAD_BYTES, decode, decode_config, describe, encode
from forecourt.protocol.fleet import (
    ConfigDocument,
    ConfigState,
    SettingError,
    check_setting,
    setting_errors,
    settings_hash,
)
from forecourt.protocol.messages import (
    BODY_KINDS,
    EVENT_KINDS,
    VERSION,
    Alert,
    AlertBody,
    Cleaning,
    CleaningBody,
    CleaningFlag,
    Event,
    EventBody,
    FilteredPresses,
    FilteredPressesBody,
    Health,
    Message,
    PressFilter,
    Rating,
    RatingBody,
    StationAlert,
    Status,
    Visit,
    VisitBody,
    ZoneDwell,
    ZoneDwellBody,
    event_from,
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
    config_state_topic,
    config_topic,
    event_topic,
    health_topic,
    parse_topic,
    station_filter,
    status_topic,
)

__all__ = [
    "BODY_KINDS", "DOWNLINK", "EVENT_KINDS", "MAX_PAYLOAD_BYTES", "ROOT", "STATION_ID", "UPLINK", "VERSION",
    "Alert", "AlertBody", "Cleaning", "CleaningBody", "CleaningFlag", "Event", "EventBody", "FilteredPresses", "FilteredPressesBody",
    "Health", "Message", "PressFilter", "Rating",
    "RatingBody", "Rejected", "StationAlert", "Status", "StorageAck", "Topic", "Visit", "VisitBody", "ZoneDwell",
    "ZoneDwellBody",
    "ConfigDocument", "ConfigState", "SettingError", "check_setting", "setting_errors", "settings_hash",
    "ack_topic", "build_acks", "check_station_id", "config_state_topic", "config_topic", "decode", "decode_ack",
    "decode_config", "describe", "encode",
    "encode_ack", "event_from", "event_topic", "format_epoch", "format_ts", "seq_ranges",
    "health_topic", "new_id", "parse_topic", "parse_ts", "station_filter", "status_topic",
]
