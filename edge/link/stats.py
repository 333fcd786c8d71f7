"""What the MQTT link reports about itself: the counters the health message and the station page read."""

from dataclasses import dataclass


@dataclass(frozen=True)
class LinkStats:
    connected: bool
    published: int  # outbox rows (events and health) PUBACKed by the broker since start
    reconnects: int  # successful connections after the first one
    refused: int  # connection attempts the broker refused (CONNACK with an error code)
    rejected: int  # publishes the broker refused (PUBACK with an error code)
    last_error: str | None
    confirmed: int = 0  # outbox rows HQ acknowledged storing (or refusing) since start
    awaiting_ack: int = 0  # rows sent on this connection that HQ has not acknowledged yet
    resent: int = 0  # rows sent again because HQ had not acknowledged them in time
    no_subscribers: int = 0  # PUBACKs with reason 16: the broker had nobody to give the message to
