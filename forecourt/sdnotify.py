"""systemd's notify protocol (``sd_notify``): READY, WATCHDOG, STATUS, STOPPING.

A datagram to ``$NOTIFY_SOCKET``; a no-op when not run by systemd. Twenty lines do not need a
dependency.
"""

import os
import socket


def notify(state: str, socket_path: str | None = None) -> bool:
    """Send e.g. ``"READY=1"`` or ``"WATCHDOG=1"``; returns whether anyone was listening."""
    path = socket_path or os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):  # abstract namespace socket
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(path)
            sock.sendall(state.encode())
        return True
    except OSError:
        return False


def watchdog_interval() -> float | None:
    """Half of ``$WATCHDOG_USEC`` in seconds (systemd's advice), or None when no watchdog is set."""
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec or (os.environ.get("WATCHDOG_PID") not in (None, str(os.getpid()))):
        return None
    return int(usec) / 2e6
