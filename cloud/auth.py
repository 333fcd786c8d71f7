"""HQ API users: bearer tokens stored hashed, and the scope each role may see.

Roles: ``hq`` (the whole chain), ``region:<path>`` (that region and everything below it),
``station:<id>`` (one station). Tokens are 256 random bits, so a plain SHA-256 is enough to make
a stolen database useless for logging in (no password-style stretching is needed).
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlite_utils import Database

from cloud.registry import in_region, normalise_region, region_sql
from cloud.store import open_db, utc_now, writing
from forecourt.errors import ForecourtError
from forecourt.protocol import check_station_id, format_ts


class AuthError(ForecourtError, ValueError):
    """A role or user name is invalid."""


@dataclass(frozen=True)
class Role:
    kind: str  # "hq" | "region" | "station"
    value: str = ""

    def __str__(self) -> str:
        return self.kind if self.kind == "hq" else f"{self.kind}:{self.value}"

    def sees_station(self, station: str, region: str) -> bool:
        if self.kind == "hq":
            return True
        if self.kind == "region":
            return in_region(region, self.value)
        return station == self.value

    def sees_region(self, path: str) -> bool:
        """Whether the caller may see the whole of region ``path`` ("" is the chain)."""
        if self.kind == "hq":
            return True
        return self.kind == "region" and bool(path) and in_region(path, self.value)

    def station_sql(self, id_column: str = "id", region_column: str = "region") -> tuple[str, list[str]]:
        """A WHERE fragment over the stations table limiting rows to this role's scope."""
        if self.kind == "hq":
            return "1", []
        if self.kind == "region":
            return region_sql(region_column, self.value)
        return f"{id_column} = ?", [self.value]


@dataclass(frozen=True)
class User:
    name: str
    role: Role


def parse_role(text: str) -> Role:
    kind, _, value = text.strip().partition(":")
    if kind == "hq" and not value:
        return Role("hq")
    try:
        if kind == "region" and value:
            return Role("region", normalise_region(value))
        if kind == "station" and value:
            return Role("station", check_station_id(value))
    except ValueError as err:
        raise AuthError(f"role {text!r}: {err}") from None
    raise AuthError(f"role {text!r} must be hq, region:<path> or station:<id>")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(db: Database | str | Path, name: str, role: str, *, now: datetime | None = None) -> str:
    """Create (or re-key) a user and return their new token; only its hash is stored.

    ``db`` is an open database or the path of the collector's database file.
    """
    if not isinstance(db, Database):
        opened = open_db(db)
        try:
            return add_user(opened, name, role, now=now)
        finally:
            opened.conn.close()
    if not name.strip():
        raise AuthError("a user needs a name")
    parsed = parse_role(role)
    token = secrets.token_urlsafe(32)
    with writing(db):
        db.execute(
            """INSERT INTO users (name, role, token_hash, created_at) VALUES (?, ?, ?, ?)
               ON CONFLICT(name) DO UPDATE SET role = excluded.role, token_hash = excluded.token_hash""",
            [name.strip(), str(parsed), hash_token(token), format_ts(now or utc_now())],
        )
    return token


def authenticate(db: Database, token: str) -> User | None:
    row = db.execute("SELECT name, role FROM users WHERE token_hash = ?", [hash_token(token)]).fetchone()
    return User(row[0], parse_role(row[1])) if row else None
