"""``forecourt db copy`` and ``migrate``: a site's whole database moved between SQLite and PostgreSQL, every
table compared row by row, and the collector carrying on there as if nothing happened."""

import pytest

from cloud.auth import add_user, authenticate
from cloud.config import CollectorConfig
from cloud.database import connect
from cloud.db_copy import TABLES, CopyError, columns, copy_database
from cloud.fleet_config import CHAIN
from cloud.fleet_store import change_settings, refresh_documents
from cloud.followup_records import run_followups
from cloud.ingest import Incoming, Ingestor
from cloud.rankings import parse_period, rankings
from cloud.store import migrations, open_db
from forecourt.cli import main
from forecourt.pgserver import database_name
from tests.test_cloud_day import day, t  # noqa: F401 - the scripted day is the fixture copied here


def table_rows(target, table: str) -> list[tuple]:
    db = connect(target)
    try:
        quoted = ", ".join(f'"{n}"' for n in columns(db, table))
        rows = [tuple(r) for r in db.execute(f"SELECT {quoted} FROM {table}").fetchall()]
        return sorted(rows, key=lambda row: [repr(value) for value in row])  # json has no ordering in PostgreSQL
    finally:
        db.close()


@pytest.fixture
def site(day, database, postgres_server, tmp_path, request):  # noqa: F811
    """The scripted day plus users, follow-ups and fleet settings: a database with a row in most tables."""
    add_user(day, "hq", "hq")
    Ingestor(day).store([Incoming("forecourt/v1/leeds-01/event/rating", b"{not json")], now=t("06T10:25"))
    run_followups(day, CollectorConfig().followups, t("06T10:30"))
    run_followups(day, CollectorConfig().followups, t("08T10:30"))  # the follow-up deadline passed: escalated
    change_settings(day, CHAIN, values={"restrooms.interval_min": 45}, by="alice", now=t("06T10:40"))
    refresh_documents(day, t("06T10:41"))
    day.close()
    if isinstance(database, str):  # PostgreSQL to a SQLite file
        yield database, tmp_path / "copy.db"
        return
    name = database_name("copy-" + request.node.name)
    yield database, postgres_server.create_database(name)
    postgres_server.drop_database(name)


def test_every_table_is_listed_for_the_copy(database):
    db = open_db(database)
    held = {r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '_sqlite_migrations'"
        if db.dialect.name == "sqlite" else
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename != 'schema_migrations'"
    )}
    assert held == set(TABLES)


def test_a_site_copied_to_the_other_backend_holds_the_same_rows_and_carries_on(site):
    source, target = site
    copied = {c.table: c.rows for c in copy_database(source, target)}
    empty = [table for table, rows in copied.items() if rows == 0]
    assert empty == ["poison_hours", "fleet_states"], empty  # the scripted site fills every other table
    for table in TABLES:
        assert table_rows(target, table) == table_rows(source, table), table

    db = open_db(target)
    try:
        assert authenticate(db, "not a token") is None
        token_user = db.execute("SELECT name FROM users").fetchone()[0]
        assert token_user == "hq"
        period = parse_period("month", "2026-11", t("06T12:00"))
        source_db = open_db(source)
        settings = CollectorConfig().score
        ranked = rankings(db, period, t("06T12:00"), settings)
        assert ranked == rankings(source_db, period, t("06T12:00"), settings)
        assert [r["station"] for r in ranked] == ["bath-01", "leeds-01", "york-01"]
        source_db.close()
        # New rows continue after the copied ids instead of colliding with them.
        (newest,) = db.execute("SELECT max(id) FROM alerts").fetchone()
        (fresh,) = db.execute(
            """INSERT INTO alerts (station, rule, subject, episode, message, opened_at, due_at)
               VALUES ('leeds-01', 'station_offline', '', 'after-copy', 'm', '2026-11-07T00:00:00.000Z',
               '2026-11-08T00:00:00.000Z') RETURNING id"""
        ).fetchone()
        assert fresh > newest
    finally:
        db.close()


def test_a_target_that_holds_data_is_refused_and_left_as_it_was(site):
    source, target = site
    db = open_db(target)
    add_user(db, "someone", "hq")
    db.close()
    with pytest.raises(CopyError, match="already holds data.*users"):
        copy_database(source, target)
    assert [r[0] for r in table_rows(target, "users")] == ["someone"]
    assert table_rows(target, "events") == []


def test_a_source_behind_this_schema_is_refused(site):
    source, target = site
    db = connect(source)
    db.execute(f"DELETE FROM {db.dialect.migrations_table} WHERE name = 'm009_fleet_config'")
    db.close()
    with pytest.raises(CopyError, match="older schema.*m009_fleet_config.*forecourt db migrate"):
        copy_database(source, target)


def test_migrate_reports_and_applies_pending_migrations(database, capsys):
    assert main(["db", "migrate", "--status", "--database", str(database)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"pending\t{m.name}" for m in migrations.all]
    assert main(["db", "migrate", "--database", str(database)]) == 0
    assert f"0 migration(s) were applied, {len(migrations.all)} now" in capsys.readouterr().err
    assert main(["db", "migrate", "--status", "--database", str(database)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"applied\t{m.name}" for m in migrations.all]
    assert main(["db", "migrate", "--database", str(database)]) == 0
    assert "the schema is current" in capsys.readouterr().err


def test_copy_on_the_command_line_names_each_table(site, capsys):
    source, target = site
    assert main(["db", "copy", str(source), str(target)]) == 0
    out = capsys.readouterr()
    assert [line.split("\t")[0] for line in out.out.splitlines()] == list(TABLES)
    assert "rows in 19 tables" in out.err
