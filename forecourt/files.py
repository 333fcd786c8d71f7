"""Writing a file that holds secrets: atomically, private, keeping the owner a service reads it as."""

import contextlib
import os
import secrets
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically: a crash mid-write must not cost every other station its password.

    A file that exists keeps its owner, group and mode (minus any world bits): Mosquitto 2.0 reads the
    dynamic-security file as the ``mosquitto`` user, so a rewrite by root must not lock it out. A new file is 0600.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        old = path.stat()
    except FileNotFoundError:
        old = None
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if old is not None:
            with contextlib.suppress(PermissionError):  # only root may give a file away
                os.chown(temp, old.st_uid, old.st_gid)
        os.chmod(temp, (old.st_mode & 0o770) if old is not None else 0o600)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
