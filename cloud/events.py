"""Stored events read back as the protocol's typed events: what ingest validated, the rollups and rules read
by attribute, so a field renamed in :mod:`forecourt.protocol.messages` breaks here at once, not silently.

A row that no longer validates (written by an older collector, edited by hand) raises ``ValueError``: the
rollups set its station-hour aside as poison instead of computing figures from a half-read event.
"""

from collections.abc import Iterable, Iterator

from pydantic import ValidationError

from forecourt.protocol import EVENT_KINDS, Event, describe


def stored_event(kind: str, payload: str | bytes) -> Event:
    cls = EVENT_KINDS.get(kind)
    if cls is None:
        raise ValueError(f"stored event of unknown kind {kind!r}")
    try:
        return cls.model_validate_json(payload)
    except ValidationError as err:
        raise ValueError(f"stored {kind} event no longer validates: {describe(err)}") from None


def stored_events(rows: Iterable[tuple[str, str | bytes]]) -> Iterator[Event]:
    """``(kind, payload)`` rows as events."""
    return (stored_event(kind, payload) for kind, payload in rows)
