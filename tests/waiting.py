"""Bounded waiting for something another thread or process does: never sleeps past ``timeout``."""

import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, poll: float = 0.02) -> bool:
    """Whether ``predicate()`` became true within ``timeout`` seconds (checked once more at the end)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return bool(predicate())
