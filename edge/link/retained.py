"""One retained message the station keeps current on the broker (its config state): the latest value wins.

Set from any thread (a single tuple assignment), published by the publisher's thread: once per connection
(a retained copy may have been lost with a broker's unsaved state) and once per change. A value the broker
refuses (a station role from before the topic existed) is not sent again, so it never costs the events'
link a reconnection per try; the next value, or the next start, tries again.
"""


class RetainedSlot:
    def __init__(self, topic: str) -> None:
        self.topic = topic
        self._value: tuple[int, bytes] | None = None  # (version, payload)
        self._sent = 0  # version published on this connection
        self._refused = 0  # version the broker refused
        self._mid: tuple[int, int] | None = None  # (MQTT message id, version) of the last publish

    def set(self, payload: bytes) -> None:
        version = self._value[0] + 1 if self._value else 1
        self._value = (version, payload)

    def connected(self) -> None:
        """A new connection: the current value is due again."""
        self._sent, self._mid = 0, None

    def due(self) -> tuple[int, bytes] | None:
        value = self._value
        return value if value is not None and value[0] not in (self._sent, self._refused) else None

    def published(self, version: int, mid: int) -> None:
        self._sent, self._mid = version, (mid, version)

    def refused(self, mid: int) -> bool:
        """Whether ``mid`` was this slot's publish; it is then not sent again until it changes."""
        if self._mid is None or self._mid[0] != mid:
            return False
        self._refused = self._mid[1]
        return True
