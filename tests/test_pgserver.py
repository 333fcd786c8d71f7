"""The PostgreSQL harness: a real server on a free loopback port, fresh databases, and no process left behind."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from forecourt import pgserver
from forecourt.pgserver import INSTALL_HINT, PostgresError, PostgresServer
from tests.waiting import wait_until


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:  # a zombie has exited even though its pid still answers
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server binds: only a listener is in the way
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_listens_on_loopback_only_on_a_port_of_its_own(postgres_server):
    assert postgres_server.port != 5432
    assert postgres_server.url == f"postgresql://postgres@127.0.0.1:{postgres_server.port}/postgres"
    with psycopg.connect(postgres_server.url) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert conn.execute("SELECT host(inet_server_addr()), inet_server_port()").fetchone() == (
            "127.0.0.1", postgres_server.port)
    # The unix socket is in the server's private directory, not /var/run/postgresql.
    with psycopg.connect(host=str(postgres_server.run_dir), port=postgres_server.port, user="postgres") as conn:
        assert conn.execute("SHOW unix_socket_directories").fetchone() == (f'"{postgres_server.run_dir}"',)


def test_a_table_round_trips(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE visits (id integer PRIMARY KEY, station text, seconds double precision)")
        conn.execute("INSERT INTO visits VALUES (1, 'st-001', 41.5), (2, 'Zürich-2', 0.25)")
        conn.commit()
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT * FROM visits ORDER BY id").fetchall() == [(1, "st-001", 41.5), (2, "Zürich-2", 0.25)]


def test_each_database_is_its_own(postgres_server):
    names = [pgserver.database_name("isolated") for _ in range(2)]
    first, second = (postgres_server.create_database(name) for name in names)
    try:
        assert first != second
        with psycopg.connect(first, autocommit=True) as conn:
            conn.execute("CREATE TABLE only_here (x integer)")
        with psycopg.connect(second) as conn:
            assert conn.execute("SELECT to_regclass('only_here')").fetchone() == (None,)
    finally:
        for name in names:
            postgres_server.drop_database(name)
    with psycopg.connect(postgres_server.url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = ANY(%s)", [names]).fetchone() == (0,)


def test_text_sorts_by_bytes_as_sqlite_does(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SHOW server_encoding").fetchone() == ("UTF8",)
        rows = conn.execute("SELECT v FROM (VALUES ('B'), ('a'), ('_')) AS t(v) ORDER BY v").fetchall()
    assert [v for (v,) in rows] == ["B", "_", "a"]


def test_throwaway_only_when_asked(postgres_server, tmp_path):
    with psycopg.connect(postgres_server.url) as conn:
        assert conn.execute("SELECT current_setting('fsync'), current_setting('synchronous_commit'), "
                            "current_setting('full_page_writes')").fetchone() == ("off", "off", "off")
    with PostgresServer(tmp_path / "pg") as durable, psycopg.connect(durable.url) as conn:
        assert conn.execute("SELECT current_setting('fsync'), current_setting('synchronous_commit'), "
                            "current_setting('full_page_writes')").fetchone() == ("on", "on", "on")


def test_stop_ends_every_process_and_frees_the_port_and_start_brings_the_data_back(tmp_path):
    server = PostgresServer(tmp_path / "pg", durable=False).start()
    try:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (x integer)")
            conn.execute("INSERT INTO kept VALUES (7)")
        postmaster = server.pid
        backends = children_of(postmaster)
        assert backends  # checkpointer, walwriter, ...: what must go with it
        server.stop()
        assert server.pid is None
        assert not [pid for pid in [postmaster, *backends] if alive(pid)]
        assert port_is_free(server.port)
        url = server.url
        server.start()
        assert server.url == url  # a restarted server is where it was
        with psycopg.connect(server.url) as conn:
            assert conn.execute("SELECT x FROM kept").fetchall() == [(7,)]
    finally:
        server.close()
    assert server.pid is None


def test_a_server_that_cannot_start_says_why_and_leaves_nothing(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = PostgresServer(durable=False, port=taken.getsockname()[1])
        with pytest.raises(PostgresError, match="exited") as raised, server:
            pass
    assert "could not bind" in str(raised.value)  # the tail of the server's own log
    assert server.process is None and server.run_dir is None


def test_as_root_it_runs_as_an_unprivileged_user_where_that_user_can_reach(tmp_path):
    with PostgresServer(tmp_path / "pg", durable=False) as server:
        runs_as = os.stat(f"/proc/{server.pid}").st_uid
        if os.geteuid() == 0:
            user = pgserver.server_user()
            assert user is not None and user.pw_name in pgserver.SERVER_USERS
            assert runs_as == user.pw_uid != 0
            # pytest's basetemp is 0700 for root: the cluster went to a private directory instead.
            expected = server.run_dir / "data" if not pgserver.can_enter(tmp_path, user) else tmp_path / "pg"
        else:
            assert runs_as == os.geteuid()
            expected = tmp_path / "pg"
        assert server.data_dir == expected.resolve()
        run_dir = server.run_dir
    assert not run_dir.exists()  # close() removes the private directory


def test_can_enter_follows_the_mode_bits():
    nobody = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp())  # not tmp_path: pytest keeps its base 0700, closed to nobody
    try:
        os.chmod(base, 0o711)
        closed = base / "closed"
        closed.mkdir(mode=0o700)
        assert not pgserver.can_enter(closed / "pg", nobody)
        os.chmod(closed, 0o711)
        assert pgserver.can_enter(closed / "pg", nobody)
        assert pgserver.can_enter(closed / "pg", None)  # not root: we run it ourselves
    finally:
        shutil.rmtree(base)


def test_a_missing_installation_says_how_to_install_it(tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(pgserver, "DEBIAN_ROOT", tmp_path / "no-postgresql")
    with pytest.raises(PostgresError, match="sudo apt-get install -y postgresql"):
        PostgresServer()
    assert INSTALL_HINT == "install it with: sudo apt-get install -y postgresql"


def fake_bindir(directory: Path, names=("initdb", "postgres")) -> Path:
    directory.mkdir(parents=True)
    for name in names:
        (directory / name).write_text("#!/bin/sh\n")
        (directory / name).chmod(0o755)
    return directory


def test_the_binaries_come_from_path_first_then_debians_newest_complete_version(tmp_path):
    root = tmp_path / "lib"
    fake_bindir(root / "9.6" / "bin")
    newest = fake_bindir(root / "15" / "bin")
    fake_bindir(root / "16" / "bin", names=("initdb",))  # half an installation does not count
    assert pgserver.find_bindir(path="", debian_root=root) == newest
    on_path = fake_bindir(tmp_path / "local" / "bin")
    assert pgserver.find_bindir(path=f"{tmp_path / 'nothing'}:{on_path}", debian_root=root) == on_path
    with pytest.raises(PostgresError, match=INSTALL_HINT):
        pgserver.find_bindir(path="", debian_root=tmp_path / "nothing")


def test_database_names_are_fresh_and_valid():
    names = {pgserver.database_name("test_x[Ünicode-param/1]" * 5) for _ in range(50)}
    assert len(names) == 50
    assert all(len(name.encode()) <= 63 and name.replace("_", "").isalnum() and name.islower() for name in names)


SCRIPT = """
import sys, time
from forecourt.pgserver import PostgresServer
server = PostgresServer(durable=False).start()
print(server.pid, server.run_dir, flush=True)
time.sleep(120)
"""


def test_a_sigkilled_parent_takes_its_server_along(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[1])
    line = parent.stdout.readline()
    assert line, "the parent did not start its server"
    pid, run_dir = int(line.split()[0]), Path(line.split()[1])
    try:
        backends = children_of(pid)
        assert alive(pid) and backends
        parent.kill()
        parent.wait(10)
        assert wait_until(lambda: not alive(pid) and not any(alive(b) for b in backends), timeout=60)
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(run_dir, ignore_errors=True)  # its parent died before it could remove it
