"""Between the pure logic and the durable outbox: an event *draft* and the sink that takes it.

Logic (sensors, vision) returns drafts: the kind, when it happened, and the kind's protocol
fields. The sink (the outbox in production, :class:`ListSink` in tests) assigns ``id``, ``seq``,
``station`` and ``ts`` and makes it durable.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Draft:
    kind: str
    at: float  # epoch seconds (UTC) when it happened
    fields: Mapping[str, Any] = field(default_factory=dict)


class EventSink(Protocol):
    def emit(self, draft: Draft) -> None: ...


class ListSink:
    """Keeps drafts in a list: for tests and for tools such as ``forecourt analyze``."""

    def __init__(self) -> None:
        self.drafts: list[Draft] = []

    def emit(self, draft: Draft) -> None:
        self.drafts.append(draft)
