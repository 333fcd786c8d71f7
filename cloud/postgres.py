"""The PostgreSQL backend (psycopg 3): the collector's ``?`` SQL sent as server-side ``$n`` parameters.

Placeholders are rewritten once per distinct statement (cached) rather than per call, and psycopg's
RawCursor passes ``$n`` straight to the server, so ``%`` in SQL needs no escaping and psycopg prepares
statements it sees often. Connections run in autocommit; :meth:`PostgresDatabase.transaction` opens a
transaction (nested: a savepoint), which is where every write happens.

Several collectors share one database: rows they all update are locked in a fixed order
(``Dialect.lock_rows``), work queues are taken with ``FOR UPDATE SKIP LOCKED``, and a fleet-wide job
runs where :meth:`PostgresDatabase.try_lock` (a session advisory lock) says so.
"""

import contextlib
import functools
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from cloud.database import POSTGRES, StorageUnavailable
from forecourt.errors import ConfigError

try:
    import psycopg
    from psycopg import RawCursor
    from psycopg.adapt import Dumper, Loader
    from psycopg.rows import dict_row
    from psycopg.types.string import TextLoader
except ImportError as err:  # pragma: no cover - depends on the install
    raise ConfigError("a postgresql:// database needs psycopg: pip install 'forecourt[postgresql]'") from err

CONNECT_TIMEOUT_S = 10


@functools.lru_cache(maxsize=4096)
def numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2, ...``, leaving quoted text and identifiers alone."""
    out, n, quote = [], 0, ""
    for char in sql:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "?":
            n += 1
            out.append(f"${n}")
            continue
        out.append(char)
    return "".join(out)


class _NumberLoader(Loader):
    """``numeric`` (what sum() and avg() of integers give) as int when whole, else float, as SQLite returns them."""

    def load(self, data: bytes) -> int | float:
        value = Decimal(bytes(data).decode())
        return int(value) if value == value.to_integral_value() else float(value)


class _BoolAsInteger(Dumper):
    """Python booleans into the schema's INTEGER flags, as sqlite3 stores them."""

    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a job's name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def configure(conn: "psycopg.Connection") -> None:
    """Values as the SQLite backend gives them back, so the code above both reads one way."""
    conn.adapters.register_loader("numeric", _NumberLoader)
    conn.adapters.register_loader("json", TextLoader)  # payloads stay the text the station sent
    conn.adapters.register_dumper(bool, _BoolAsInteger)


class PostgresDatabase:
    dialect = POSTGRES

    def __init__(self, conn: "psycopg.Connection", *, on_close=None) -> None:
        self.conn = conn
        self._on_close = on_close

    @classmethod
    def connect(cls, url: str, *, read_only: bool = False) -> "PostgresDatabase":
        try:
            conn = psycopg.connect(url, autocommit=True, cursor_factory=RawCursor, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.OperationalError as err:
            raise StorageUnavailable(f"cannot connect to PostgreSQL: {err}") from err
        configure(conn)
        if read_only:
            conn.execute("SET default_transaction_read_only = on")
        return cls(conn)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> "psycopg.Cursor":
        try:
            return self.conn.execute(numbered(sql), params or None)
        except psycopg.OperationalError as err:
            raise StorageUnavailable(str(err)) from err

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        try:
            with self.conn.cursor() as cursor:
                cursor.executemany(numbered(sql), rows)
        except psycopg.OperationalError as err:
            raise StorageUnavailable(str(err)) from err

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """One COPY instead of a statement per row: ingest's 2,000-event batches spent most of their time
        in per-row round trips. A row that breaks a constraint fails the COPY and the transaction decides."""
        if not rows:
            return
        try:
            with self.conn.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.OperationalError as err:
            raise StorageUnavailable(str(err)) from err

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cursor:
            cursor.execute(numbered(sql), params or None)
            yield from cursor

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        try:
            with self.conn.transaction():
                yield
        except psycopg.OperationalError as err:
            raise StorageUnavailable(str(err)) from err

    def try_lock(self, name: str) -> bool:
        """Whether this connection holds (or now took) the advisory lock ``name``; held until unlock or close."""
        (held,) = self.execute("SELECT pg_try_advisory_lock(?)", [lock_key(name)]).fetchone()
        return bool(held)

    def unlock(self, name: str) -> None:
        self.execute("SELECT pg_advisory_unlock(?)", [lock_key(name)])

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close(self.conn)
        else:
            self.conn.close()


class PostgresPool:
    """psycopg's pool: up to ``size`` open connections shared by the API's worker threads."""

    def __init__(self, url: str, *, size: int = 8, read_only: bool = False) -> None:
        from psycopg_pool import ConnectionPool

        def setup(conn: "psycopg.Connection") -> None:
            configure(conn)
            if read_only:
                conn.execute("SET default_transaction_read_only = on")

        self._pool = ConnectionPool(
            url, min_size=1, max_size=size, open=True, configure=setup, timeout=CONNECT_TIMEOUT_S,
            kwargs={"autocommit": True, "cursor_factory": RawCursor, "connect_timeout": CONNECT_TIMEOUT_S},
        )

    @contextlib.contextmanager
    def connection(self) -> Iterator[PostgresDatabase]:
        try:
            with self._pool.connection() as conn:
                yield PostgresDatabase(conn, on_close=lambda _: None)
        except psycopg.OperationalError as err:
            raise StorageUnavailable(str(err)) from err

    def close(self) -> None:
        self._pool.close()
