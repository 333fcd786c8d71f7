"""Between the pure logic and the durable outbox: an event *draft* and the sink that takes it.

Logic (sensors, vision) returns drafts: when it happened and the kind's typed body from the protocol
(:class:`~forecourt.protocol.RatingBody`, ...), checked as it is drafted. The sink (the outbox in
production, :class:`ListSink` in tests) adds ``id``, ``seq``, ``station`` and ``ts`` and makes it durable.
"""

from dataclasses import dataclass
from typing import Any, Protocol

from forecourt.protocol import EventBody


@dataclass(frozen=True)
class Draft:
    at: float  # epoch seconds (UTC) when it happened
    body: EventBody

    @property
    def kind(self) -> str:
        return self.body.KIND

    @property
    def fields(self) -> dict[str, Any]:
        """The body as the wire spells it, for printing and CSV; logic reads the typed :attr:`body`."""
        return self.body.model_dump(mode="json")


class EventSink(Protocol):
    def emit(self, draft: Draft) -> None: ...


class ListSink:
    """Keeps drafts in a list: for tests and for tools such as ``forecourt analyze``."""

    def __init__(self) -> None:
        self.drafts: list[Draft] = []

    def emit(self, draft: Draft) -> None:
        self.drafts.append(draft)
