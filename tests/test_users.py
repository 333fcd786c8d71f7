"""``forecourt users``: add refuses to re-key an existing user unless --force, rotate and remove end the
old token at once - checked through the real CLI entry and the API the tokens open."""

import pytest
from fastapi.testclient import TestClient

from cloud.api import create_app
from forecourt.cli import main


@pytest.fixture
def users(tmp_path, capsys):
    database = str(tmp_path / "collector.db")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["users", *args, "--database", database])
        out, err = capsys.readouterr()
        return code, out.strip(), err.strip()

    run.database = database
    return run


def status(client: TestClient, token: str) -> int:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_add_prints_a_token_once_and_refuses_an_existing_name(users):
    code, alice, err = users("add", "alice", "--role", "hq")
    assert code == 0 and len(alice) >= 43 and "shown once" in err
    client = TestClient(create_app(users.database, dashboard=False))
    assert status(client, alice) == 200

    code, out, err = users("add", "alice", "--role", "station:leeds-01")
    assert (code, out) == (1, "") and "exists" in err and "--force" in err
    assert status(client, alice) == 200, "a refused add leaves the user and their token alone"
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {alice}"}).json()["role"] == "hq"

    code, forced, _ = users("add", "alice", "--role", "station:leeds-01", "--force")
    assert code == 0 and forced != alice
    assert (status(client, alice), status(client, forced)) == (401, 200)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {forced}"}).json() == {
        "name": "alice", "role": "station:leeds-01"}


def test_rotate_gives_a_new_token_and_ends_the_old_one(users):
    _, old, _ = users("add", "bob", "--role", "region:north")
    _, other, _ = users("add", "carol", "--role", "hq")
    client = TestClient(create_app(users.database, dashboard=False))
    code, new, err = users("rotate", "bob")
    assert code == 0 and new and new != old and "old token no longer works" in err
    assert (status(client, old), status(client, new), status(client, other)) == (401, 200, 200)
    assert users("list")[1].splitlines()[0].split("\t")[:2] == ["bob", "region:north"], "the role is kept"
    assert users("rotate", "nobody")[0] == 1


def test_remove_ends_the_user_and_their_token(users):
    _, token, _ = users("add", "dave", "--role", "hq")
    client = TestClient(create_app(users.database, dashboard=False))
    assert status(client, token) == 200
    code, out, err = users("remove", "dave")
    assert (code, out) == (0, "") and "removed dave" in err
    assert status(client, token) == 401
    assert users("list")[1] == ""
    code, _, err = users("remove", "dave")
    assert code == 1 and "no user 'dave'" in err


def test_bad_names_and_roles_are_usage_errors(users):
    assert users("add", "  ", "--role", "hq")[0] == 2
    code, _, err = users("add", "erin", "--role", "region:")
    assert code == 2 and "role" in err
    assert users("list")[1] == ""
