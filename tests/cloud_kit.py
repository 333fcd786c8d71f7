"""Helpers for the collector tests: protocol messages by hand, an in-process collector on a test broker."""

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import uvicorn

from cloud.config import CollectorMqtt, IngestSettings
from cloud.database import connect, is_postgres
from cloud.ingest import Incoming, Ingestor
from cloud.store import open_db
from cloud.subscriber import Subscriber
from forecourt.broker import Mosquitto, free_port
from forecourt.protocol import Alert, Cleaning, Health, Rating, Status, Visit, encode, format_ts
from tests import waiting

_ids = itertools.count(1)


def next_id(prefix: str = "ev") -> str:
    return f"{prefix}{next(_ids):08d}"


def rating(station: str, seq: int, at: datetime, score: int, *, scale: int = 5, location: str = "shop") -> Rating:
    return Rating(id=next_id(), seq=seq, station=station, ts=format_ts(at), kiosk="k1", location=location,
                  score=score, scale=scale)


def cleaning(station: str, seq: int, at: datetime, restroom: str = "r1", *, flag: str | None = None,
             since_last_s: float | None = None) -> Cleaning:
    return Cleaning(id=next_id(), seq=seq, station=station, ts=format_ts(at), restroom=restroom, flag=flag,
                    since_last_s=since_last_s)


def edge_alert(station: str, seq: int, at: datetime, alert: str, state: str, subject: str) -> Alert:
    return Alert(id=next_id(), seq=seq, station=station, ts=format_ts(at), alert=alert, state=state, subject=subject)


def visit(station: str, seq: int, departed: datetime, *, greet_s: float | None, dwell_s: float,
          min_fps: float | None = 10.0) -> Visit:
    arrived = departed - timedelta(seconds=dwell_s)
    stopped = arrived + timedelta(seconds=5)
    greeted = None if greet_s is None else format_ts(stopped + timedelta(seconds=greet_s))
    return Visit(id=next_id(), seq=seq, station=station, ts=format_ts(departed), bay="bay1",
                 arrived_at=format_ts(arrived), stopped_at=format_ts(stopped), greeted_at=greeted,
                 departed_at=format_ts(departed), greet_s=greet_s, dwell_s=dwell_s, min_fps=min_fps)


def health(station: str, at: datetime, *, camera_fps: float | None = 8.0) -> Health:
    return Health(id=next_id("h"), station=station, ts=format_ts(at), version="1.0", uptime_s=60.0,
                  camera_fps=camera_fps)


def online(version: str = "1.0") -> Status:
    return Status(state="online", version=version, config_hash="cfg1", started_at="2026-11-02T00:00:00.000Z")


def incoming(message, station: str | None = None) -> Incoming:
    return Incoming(*encode(message, station))


def store_at(ingestor: Ingestor, now: datetime, *messages, station: str | None = None) -> None:
    """Ingest messages as if received at ``now`` (statuses need ``station``)."""
    ingestor.store([incoming(m, station) for m in messages], now=now)


def collector_settings(broker: Mosquitto, client_id: str, *, username: str = "collector", **extra) -> CollectorMqtt:
    """The broker replaces ``client_id`` with ``username``: a second collector at once needs another collector user."""
    return CollectorMqtt(url=broker.url, username=username, password=broker.users[username],
                         client_id=client_id, **extra)


def start_collector(
    broker: Mosquitto, db_path: Path | str, client_id: str = "collector-test", share_group: str = "forecourt",
    username: str = "collector",
) -> Subscriber:
    open_db(db_path).close()  # migrate before threads race to (the service does the same)
    subscriber = Subscriber(
        collector_settings(broker, client_id, share_group=share_group, username=username), IngestSettings(batch_wait_ms=5),
        lambda: Ingestor(open_db(db_path)),
    )
    return subscriber.start()


@contextlib.contextmanager
def serving(app, timeout: float = 20.0) -> Iterator[int]:
    """The ASGI ``app`` on a free loopback port for the duration (yields the port), as the collector serves it."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(15)


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    return waiting.wait_until(predicate, timeout)  # the collector's batches want longer than the default


def database_setting(target: Path | str) -> dict:
    """``[database]`` settings naming ``target``, a SQLite file or a PostgreSQL URL."""
    return {"url": target} if is_postgres(target) else {"path": Path(target)}


def count(db_path: Path | str, sql: str, params: tuple = ()) -> int:
    """One number from the database (a file or a URL), read on a fresh connection as the API would (never migrating)."""
    db = connect(db_path)
    try:
        return db.execute(sql, params).fetchone()[0]
    finally:
        db.close()
