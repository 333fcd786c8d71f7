"""A private PostgreSQL server on a free loopback port, for tests, benches and the demo (as broker.py is for Mosquitto).

``initdb`` makes the cluster (UTF8, locale C: text sorts by bytes, as SQLite sorts it) and ``postgres`` runs in
the foreground as this process's child, listening on 127.0.0.1 only, with its unix socket in a private
directory and trust authentication for loopback and that socket only. ``pg_ctl`` is not used: it would leave
the server a child of init, out of reach of the parent-death signal that stops it when its starter is SIGKILLed.

As root (this machine, CI) the server runs as ``postgres`` (Debian's package creates it), else ``nobody``:
initdb and postgres refuse to run as root. Their directories are then chowned to that user, and a directory
it cannot reach (pytest's ``/tmp/pytest-of-root`` is 0700) is replaced by a private one under the system
temporary directory.
"""

import contextlib
import ctypes
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from forecourt.broker import free_port
from forecourt.children import PR_SET_PDEATHSIG
from forecourt.errors import ForecourtError

INSTALL_HINT = "install it with: sudo apt-get install -y postgresql"
DEBIAN_ROOT = Path("/usr/lib/postgresql")  # Debian keeps each major version in <root>/<version>/bin
SUPERUSER = "postgres"  # the role initdb creates, whoever runs the server
SERVER_USERS = ("postgres", "nobody")  # who runs it when we are root, first that exists
RESERVED_PORT = 5432  # the machine's own PostgreSQL, if it has one: never ours
# A throwaway cluster loses its last commits in a crash instead of waiting for the disk; never the default,
# so that bench figures are those of a real server.
THROWAWAY_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
HBA = "local all all trust\nhost all all 127.0.0.1/32 trust\n"  # nothing else, and nothing off loopback


class PostgresError(ForecourtError, RuntimeError):
    """A PostgreSQL server could not be found, made, started or stopped; the message says why."""


def _version_key(directory: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", directory.name)) or (-1,)


def _complete(bindir: Path) -> bool:
    return all((bindir / name).is_file() and os.access(bindir / name, os.X_OK) for name in ("initdb", "postgres"))


def find_bindir(path: str | None = None, debian_root: Path | None = None) -> Path:
    """The directory holding ``initdb`` and ``postgres``: the one on ``path`` (default ``$PATH``) first, then
    Debian's newest ``/usr/lib/postgresql/<version>/bin``."""
    on_path = shutil.which("initdb", path=os.environ.get("PATH", "") if path is None else path)
    if on_path and _complete(Path(on_path).resolve().parent):  # resolve: /usr/local/bin may hold links to one
        return Path(on_path).resolve().parent
    root = DEBIAN_ROOT if debian_root is None else debian_root
    versions = sorted((p for p in root.glob("*/bin") if _complete(p)), key=lambda p: _version_key(p.parent))
    if versions:
        return versions[-1]
    raise PostgresError(f"PostgreSQL is not installed (no initdb and postgres on PATH or in {root}/<version>/bin); {INSTALL_HINT}")


def server_user() -> pwd.struct_passwd | None:
    """Whom the server runs as: ``None`` (this process's user) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in SERVER_USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresError(f"running as root, and none of the users {', '.join(SERVER_USERS)} exists to run PostgreSQL")


def can_enter(directory: Path, user: pwd.struct_passwd | None) -> bool:
    """Whether ``user`` may pass through every existing directory on the way to ``directory`` (mode bits)."""
    if user is None:
        return True
    groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
    for step in [*reversed(directory.resolve().parents), directory.resolve()]:
        try:
            st = step.stat()
        except FileNotFoundError:
            break  # the rest we create ourselves
        bit = stat.S_IXUSR if st.st_uid == user.pw_uid else stat.S_IXGRP if st.st_gid in groups else stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def database_name(hint: str) -> str:
    """A fresh database name for ``hint`` (a test's name): lower-case word characters, a random tail, <= 63 bytes."""
    stem = re.sub(r"[^a-z0-9_]+", "_", hint.lower()).strip("_")[:40] or "db"
    return f"{stem}_{secrets.token_hex(4)}"


def _tie_to_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """SIGINT (fast shutdown: sessions are closed, a checkpoint written) when the parent dies, even by SIGKILL.

    Not children.die_with_parent(), whose SIGTERM is PostgreSQL's *smart* shutdown, which waits for every
    client to leave. Runs after Popen changed the user: Linux clears the death signal when credentials change.
    """
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT)


class PostgresServer:
    """A private PostgreSQL cluster on a free loopback port; ``durable=False`` for a throwaway test cluster.

    >>> with PostgresServer(durable=False) as server:
    ...     url = server.create_database("one_test")  # 'postgresql://postgres@127.0.0.1:<port>/one_test'

    ``directory`` holds the cluster (made on first start, reused after); ``None``, or one the server's user
    cannot reach, means a private one that :meth:`close` removes. :meth:`stop` keeps the data, so a stopped
    server starts again with it. The server dies with the thread that started it (``die_with_parent``):
    start it from the main thread or another long-lived one.
    """

    def __init__(
        self,
        directory: Path | None = None,
        *,
        port: int | None = None,
        durable: bool = True,
        die_with_parent: bool = True,
        bindir: Path | None = None,
    ) -> None:
        self.bindir = Path(bindir) if bindir is not None else find_bindir()
        self.user = server_user()
        self.host = "127.0.0.1"
        self.requested_port = port
        self.port = port or 0
        self.durable = durable
        self.die_with_parent = die_with_parent
        self.directory = Path(directory) if directory is not None else None
        self.run_dir: Path | None = None  # private: the socket, and the cluster when it cannot be in ``directory``
        self.data_dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    # Where it is

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{quote(database, safe='')}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.poll() is None else None

    @property
    def log_file(self) -> Path | None:
        return self.run_dir / "server.log" if self.run_dir else None

    @property
    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file and self.log_file.exists() else ""

    # Its life

    def start(self, timeout: float = 60.0) -> "PostgresServer":
        """Make the cluster if there is none, then start the server and wait (at most ``timeout`` s) until it
        accepts connections. A picked port is kept for restarts, unless someone else took it meanwhile."""
        if self.pid is not None:
            return self
        deadline = time.monotonic() + timeout
        self._prepare(deadline)
        for attempt in range(3):
            if self.requested_port is None and (attempt or not self.port):
                self.port = free_port(self.host)
                while self.port == RESERVED_PORT:
                    self.port = free_port(self.host)
            try:
                return self._launch(deadline)
            except PostgresError:
                if self.requested_port is not None or attempt == 2 or "could not bind" not in self.log[-2000:]:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT): open transactions roll back, sessions end, a checkpoint is written. The whole
        process group is killed if that takes longer than ``timeout`` s."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)  # its backends too: they hold the shared memory
                self.process.wait(timeout)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop, and remove the private directory (never a ``directory`` the caller gave and the server used)."""
        self.stop()
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None
            self.data_dir = None

    def __enter__(self) -> "PostgresServer":
        try:
            return self.start()
        except BaseException:
            self.close()  # no __exit__ after a failed __enter__: the private directory would stay behind
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Databases

    def create_database(self, name: str) -> str:
        """A new, empty database (a copy of ``template0``: UTF8, locale C); its URL."""
        self._execute("CREATE DATABASE {} TEMPLATE template0", name)
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop it, closing any session still connected to it (a test that forgot a connection)."""
        self._execute("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)

    def _execute(self, statement: str, name: str) -> None:
        import psycopg  # the postgresql extra: only who uses databases needs it
        from psycopg import sql

        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL(statement).format(sql.Identifier(name)))

    # How

    def _chown(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def _popen_user(self) -> dict[str, object]:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def _prepare(self, deadline: float) -> None:
        """The private directory, and the cluster in it or in ``directory`` (initdb when it has none)."""
        if self.run_dir is None:
            base = Path(tempfile.gettempdir())
            if not can_enter(base, self.user):
                raise PostgresError(f"{base} (the temporary directory) is closed to {self.user.pw_name}; set TMPDIR")
            self.run_dir = Path(tempfile.mkdtemp(prefix="forecourt-pg-", dir=base))  # short: a socket path is <108 bytes
            self._chown(self.run_dir)
        if self.data_dir is None:
            if self.directory is not None and can_enter(self.directory, self.user):
                self.data_dir = self.directory.resolve()
            else:
                self.data_dir = self.run_dir / "data"
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._chown(self.data_dir)
        command = [str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, "-E", "UTF8",
                   "--locale=C", "--auth=trust"]
        if not self.durable:
            command.append("--no-sync")  # a durable cluster also starts from files that reached the disk
        try:
            done = subprocess.run(command, capture_output=True, text=True, cwd=self.run_dir,
                                  timeout=max(deadline - time.monotonic(), 1), **self._popen_user())
        except subprocess.TimeoutExpired:
            raise PostgresError(f"initdb {self.data_dir} took longer than the start-up timeout") from None
        if done.returncode != 0:
            raise PostgresError(f"initdb {self.data_dir} failed ({done.returncode}): {(done.stdout + done.stderr)[-1500:]}")
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text(HBA)
        self._chown(hba)

    def _command(self) -> list[str]:
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": f'"{self.run_dir}"',
            "unix_socket_permissions": "0700",
            **({} if self.durable else THROWAWAY_SETTINGS),
        }
        command = [str(self.bindir / "postgres"), "-D", str(self.data_dir)]
        for key, value in settings.items():
            command += ["-c", f"{key}={value}"]
        return command

    def _launch(self, deadline: float) -> "PostgresServer":
        assert self.run_dir is not None and self.data_dir is not None
        with open(self.run_dir / "server.log", "ab") as log:
            self.process = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.run_dir,
                start_new_session=True,  # a terminal's Ctrl-C reaches the demo, which stops the server in order
                preexec_fn=_tie_to_parent if self.die_with_parent and sys.platform.startswith("linux") else None,
                **self._popen_user(),
            )
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                exited = self.process.poll()
                self.stop()
                why = f"exited with {exited}" if exited is not None else "not ready before the start-up timeout"
                raise PostgresError(f"postgres on {self.host}:{self.port} {why}; its log ends:\n{self.log[-2000:]}")
            time.sleep(0.02)
        return self

    def _ready(self) -> bool:
        """What ``pg_ctl -w`` waits for: postmaster.pid written by this process, its status line saying ready."""
        assert self.data_dir is not None and self.process is not None
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return False
        return len(lines) >= 8 and lines[0].strip() == str(self.process.pid) and lines[7].strip() == "ready"
