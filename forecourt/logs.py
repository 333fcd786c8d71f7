"""Logging to stderr in the form journald shows well: ``LEVEL name: message``."""

import logging
import os
import sys

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def resolve_level(flag: str | None) -> str:
    """The flag wins, then ``FORECOURT_LOG_LEVEL``, then INFO."""
    level = (flag or os.environ.get("FORECOURT_LOG_LEVEL") or "INFO").upper()
    if level not in LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
    return level


def setup_logging(level: str) -> None:
    # journald adds its own timestamps, so the line carries only what it lacks.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
