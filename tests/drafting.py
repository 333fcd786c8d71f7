"""Drafts for tests, written as the kind and its fields (what the wire shows) instead of typed bodies."""

from typing import Any

from edge.events import Draft
from forecourt.protocol import BODY_KINDS


def draft(kind: str, at: float, fields: dict[str, Any] | None = None) -> Draft:
    """A valid draft of ``kind``: its body checked exactly as the edge's logic checks it."""
    return Draft(at, BODY_KINDS[kind](**(fields or {})))
