"""HQ API users: bearer tokens stored hashed, and the scope each role may see.

Roles: ``hq`` (the whole chain), ``region:<path>`` (that region and everything below it),
``station:<id>`` (one station). Tokens are 256 random bits, so a plain SHA-256 is enough to make
a stolen database useless for logging in (no password-style stretching is needed).

What a request may see is a :class:`Scope`: a region path and, optionally, one station. Region paths
nest by whole segments and compare exactly: ``east`` covers ``east`` and ``east/oslo``, never
``eastern/...`` nor ``East/...``. The query layer (``cloud.queries.scope_sql``) is the one place that
turns a Scope into SQL; everything else asks :meth:`Scope.covers`.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cloud.database import Database
from cloud.registry import in_region, normalise_region
from cloud.store import open_db, utc_now, writing
from forecourt.errors import ForecourtError
from forecourt.protocol import check_station_id, format_ts


class AuthError(ForecourtError, ValueError):
    """A role or user name is invalid."""


class UserExists(AuthError):
    """``add`` would overwrite an existing user (and silently invalidate their token)."""


class NoSuchUser(AuthError, LookupError):
    """The named user does not exist."""


@dataclass(frozen=True)
class Scope:
    """The stations a request may see: those within region path ``region`` ("" is the whole chain)
    and, when ``station`` is set, only that one. Pure: no database, no SQL."""

    region: str = ""
    station: str | None = None

    def covers(self, station: str, region: str) -> bool:
        """Whether a station ``station`` placed in ``region`` is inside this scope."""
        return in_region(region, self.region) and (self.station is None or station == self.station)

    def covers_region(self, path: str) -> bool:
        """Whether the whole of region ``path`` ("" is the chain) lies inside this scope."""
        return self.station is None and in_region(path, self.region)

    def within(self, *, region: str | None = None, station: str | None = None) -> "Scope":
        """The intersection of this scope with region ``region`` and/or station ``station``
        (:data:`NOTHING` when they do not meet). The HTTP layer refuses an outside request with 403
        first; this keeps even an unchecked one from widening what a caller sees."""
        if region is not None and not in_region(region, self.region):
            if not in_region(self.region, region):
                return NOTHING
            region = self.region  # the request is wider than the scope: the scope stands
        if station is not None and self.station is not None and station != self.station:
            return NOTHING
        return Scope(region=self.region if region is None else region,
                     station=self.station if station is None else station)


NOTHING = Scope(station="")  # no station has the empty id, so this covers none


@dataclass(frozen=True)
class Role:
    kind: str  # "hq" | "region" | "station"
    value: str = ""

    def __str__(self) -> str:
        return self.kind if self.kind == "hq" else f"{self.kind}:{self.value}"

    @property
    def scope(self) -> Scope:
        if self.kind == "region":
            return Scope(region=self.value)
        if self.kind == "station":
            return Scope(station=self.value)
        return Scope()

    def sees_station(self, station: str, region: str) -> bool:
        return self.scope.covers(station, region)

    def sees_region(self, path: str) -> bool:
        """Whether the caller may see the whole of region ``path`` ("" is the chain)."""
        return self.scope.covers_region(path)


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


def _opened(db: Database | str | Path) -> tuple[Database, bool]:
    """``db`` as an open database, and whether it was opened here (and is to be closed by the caller)."""
    return (open_db(db), True) if isinstance(db, str | Path) else (db, False)


def add_user(
    db: Database | str | Path, name: str, role: str, *, force: bool = False, now: datetime | None = None
) -> str:
    """Create a user and return their token; only its hash is stored. An existing user is refused with
    :class:`UserExists` unless ``force`` (which gives them the new role and token, ending the old token).

    ``db`` is an open database or the path of the collector's database file.
    """
    name = name.strip()
    if not name:
        raise AuthError("a user needs a name")
    parsed = parse_role(role)
    token = secrets.token_urlsafe(32)
    db, opened = _opened(db)
    try:
        with writing(db):
            if not force and db.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone():
                raise UserExists(f"user {name!r} exists; `rotate` gives them a new token, `add --force` replaces them")
            db.execute(
                """INSERT INTO users (name, role, token_hash, created_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT(name) DO UPDATE SET role = excluded.role, token_hash = excluded.token_hash""",
                [name, str(parsed), hash_token(token), format_ts(now or utc_now())],
            )
    finally:
        if opened:
            db.close()
    return token


def rotate_token(db: Database | str | Path, name: str) -> str:
    """Give an existing user a new token (returned once) and end the old one at once."""
    token = secrets.token_urlsafe(32)
    db, opened = _opened(db)
    try:
        with writing(db):
            changed = db.execute("UPDATE users SET token_hash = ? WHERE name = ?", [hash_token(token), name]).rowcount
    finally:
        if opened:
            db.close()
    if not changed:
        raise NoSuchUser(f"no user {name!r}")
    return token


def remove_user(db: Database | str | Path, name: str) -> None:
    """Delete a user; their token stops working with the next request."""
    db, opened = _opened(db)
    try:
        with writing(db):
            removed = db.execute("DELETE FROM users WHERE name = ?", [name]).rowcount
    finally:
        if opened:
            db.close()
    if not removed:
        raise NoSuchUser(f"no user {name!r}")


def authenticate(db: Database, token: str) -> User | None:
    row = db.execute("SELECT name, role FROM users WHERE token_hash = ?", [hash_token(token)]).fetchone()
    return User(row[0], parse_role(row[1])) if row else None
