"""Shared fixtures: a real Mosquitto per test on a free loopback port, with the shipped ACL; a real PostgreSQL
per session with a fresh database per test."""

import shutil

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from forecourt import pgserver
from forecourt.broker import INSTALL_HINT, Mosquitto

# "observer" is a second collector-class user for tests that watch the broker beside a collector: the broker
# uses the username as client id, so two clients with one username would take turns kicking each other out.
STATION_USERS = {"collector": "collector-secret", "observer": "observer-secret", "a": "secret-a", "b": "secret-b"}
COLLECTORS = ("collector", "observer")


@pytest.fixture
def broker(tmp_path):
    """A running Mosquitto with collectors collector and observer, stations a and b (passwords in ``broker.users``)."""
    if shutil.which("mosquitto") is None and not any(
        shutil.os.path.exists(p) for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
    ):
        pytest.fail(f"mosquitto is not installed; {INSTALL_HINT}", pytrace=False)
    with Mosquitto(tmp_path / "broker", users=STATION_USERS, collectors=COLLECTORS) as running:
        yield running


@pytest.fixture(scope="session")
def postgres_server():
    """A running throwaway PostgreSQL (fsync off) for the whole session, on a free loopback port."""
    try:
        server = pgserver.PostgresServer(durable=False)
    except pgserver.PostgresError as err:
        pytest.fail(str(err), pytrace=False)
    with server:
        yield server


@pytest.fixture
def postgres_url(postgres_server, request):
    """The URL of a new, empty database on ``postgres_server``, dropped after the test."""
    name = pgserver.database_name(request.node.name)
    yield postgres_server.create_database(name)
    postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """The collector's database on each backend in turn: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "collector.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def mock_factory():
    """gpiozero's own MockFactory, as gpiozero's tests use it; never process-wide after the test."""
    save = Device.pin_factory
    factory = MockFactory()
    Device.pin_factory = factory
    try:
        yield factory
    finally:
        factory.reset()
        Device.pin_factory = save
