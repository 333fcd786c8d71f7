"""Child processes that must not outlive the process that started them."""

import contextlib
import ctypes
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has Linux send the child SIGTERM when its parent dies (even by SIGKILL).

    Linux ties this to the *thread* that forked, so start such children from a long-lived thread.
    """
    return _die_with_parent if sys.platform.startswith("linux") else None
