"""docs/INSTALL.md's backup advice on a real WAL-mode SQLite file: the online backup holds every committed
row while the collector keeps the database open; a plain copy of the file does not."""

import shutil
import sqlite3
import subprocess

import pytest


@pytest.fixture
def live_db(tmp_path):
    """A database as the collector leaves it: WAL mode, committed rows not yet checkpointed, still open."""
    path = tmp_path / "collector.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # the collector's checkpoint has not run yet
    writer.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT)")
    writer.executemany("INSERT INTO events (body) VALUES (?)", [(f"event {i}",) for i in range(500)])
    yield path
    writer.close()


def count(path) -> int:
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]


def test_python_online_backup_holds_every_committed_row(live_db, tmp_path):
    copy = tmp_path / "backup.db"
    with sqlite3.connect(live_db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst, pages=1024)
    assert count(copy) == 500


def test_sqlite3_cli_backup_holds_every_committed_row(live_db, tmp_path):
    if shutil.which("sqlite3") is None:
        pytest.fail("the sqlite3 command is missing; sudo apt-get install -y sqlite3", pytrace=False)
    copy = tmp_path / "collector-2026-11-23.db"
    subprocess.run(["sqlite3", str(live_db), f".backup '{copy}'"], check=True, timeout=30)
    assert count(copy) == 500


def test_copying_the_file_alone_loses_what_is_still_in_the_wal(live_db, tmp_path):
    copy = tmp_path / "cp.db"
    shutil.copyfile(live_db, copy)  # what `cp collector.db` does
    with sqlite3.connect(copy) as conn:
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'events'").fetchone()[0]
    assert tables == 0  # the table and its 500 rows exist only in collector.db-wal
