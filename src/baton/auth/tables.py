"""The authentication tables (their own metadata) and the rows Baton keeps in them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from baton.errors import InputError
from baton.store.ddl import create_tables

Clock = Callable[[], datetime]

metadata = MetaData()

users = Table(
    "users", metadata,
    Column("person", String(100), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("updated", String(40), nullable=False),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", String(32), primary_key=True),  # public, part of the token's text
    Column("person", String(100), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 hex
    Column("created", String(40), nullable=False),
    Column("last_used", String(40), nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
)

sessions = Table(
    "sessions", metadata,
    Column("id_hash", String(64), primary_key=True),  # sha256 hex of the cookie value
    Column("person", String(100), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created", String(40), nullable=False),
    Column("expires", String(40), nullable=False, index=True),
)

login_failures = Table(
    "login_failures", metadata,
    Column("key", String(300), primary_key=True),  # "person:<id>" or "ip:<address>"
    Column("count", Integer, nullable=False),
    Column("window_start", String(40), nullable=False),
)


login_throttle = Table(
    "login_throttle", metadata,
    Column("key", String(400), primary_key=True),  # "pair:<person>|<address>", "ip:<address>"
    Column("count", Integer, nullable=False),
    Column("last", String(40), nullable=False),  # the latest failure
)


def wall_clock() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


def iso(at: datetime) -> str:
    """A fixed-width UTC timestamp, so stored times also sort as text."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class TokenInfo:
    """An API token as listed: never its secret."""

    id: str
    person: str
    created: datetime
    last_used: datetime | None
    revoked: bool


@dataclass(frozen=True)
class SessionRow:
    """A stored session: whose, its CSRF token, and when it ends."""

    person: str
    csrf: str
    expires: datetime


class AuthStore:
    """Users, sessions, API tokens and login failures in the database of a store."""

    def __init__(self, engine: Engine, *, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock: Clock = clock or wall_clock
        create_tables(metadata, engine)  # replicas may start on a new database at once

    def now(self) -> datetime:
        """The injected clock's time, in UTC; a naive time is refused."""
        at = self.clock()
        if at.tzinfo is None:
            raise InputError("the authentication clock must return aware datetimes")
        return at.astimezone(UTC)

    def _insert(self, table: Table) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    # --- passwords ----------------------------------------------------------------------

    def password_hash(self, person: str) -> str | None:
        """The stored password hash of a person, if one is set."""
        with self.engine.connect() as conn:
            found = conn.scalar(select(users.c.password_hash).where(users.c.person == person))
        return None if found is None else str(found)

    def put_password_hash(self, person: str, password_hash: str) -> None:
        """Set or replace a person's password hash."""
        stmt = self._insert(users).values(person=person, password_hash=password_hash,
                                          updated=iso(self.now()))
        stmt = stmt.on_conflict_do_update(index_elements=["person"], set_={
            "password_hash": stmt.excluded.password_hash, "updated": stmt.excluded.updated})
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def people_with_passwords(self) -> set[str]:
        """Ids of everyone with a password set."""
        with self.engine.connect() as conn:
            return set(conn.scalars(select(users.c.person)))

    # --- sessions -----------------------------------------------------------------------

    def add_session(self, id_hash: str, person: str, csrf: str, expires: datetime) -> None:
        """Store a new session."""
        with self.engine.begin() as conn:
            conn.execute(insert(sessions).values(id_hash=id_hash, person=person, csrf=csrf,
                                                 created=iso(self.now()), expires=iso(expires)))

    def session(self, id_hash: str) -> SessionRow | None:
        """A stored session, expired or not."""
        with self.engine.connect() as conn:
            row = conn.execute(select(sessions.c.person, sessions.c.csrf, sessions.c.expires)
                               .where(sessions.c.id_hash == id_hash)).first()
        if row is None:
            return None
        return SessionRow(str(row[0]), str(row[1]), datetime.fromisoformat(row[2]))

    def delete_sessions(self, *, id_hash: str | None = None, person: str | None = None,
                        expired: bool = False) -> int:
        """Delete one session, a person's sessions, or every expired one; returns how many."""
        stmt = delete(sessions)
        if id_hash is not None:
            stmt = stmt.where(sessions.c.id_hash == id_hash)
        if person is not None:
            stmt = stmt.where(sessions.c.person == person)
        if expired:
            stmt = stmt.where(sessions.c.expires <= iso(self.now()))
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount

    # --- API tokens ---------------------------------------------------------------------

    def add_token(self, token_id: str, person: str, token_hash: str) -> None:
        """Store a new token by its public id and the hash of its text."""
        with self.engine.begin() as conn:
            conn.execute(insert(api_tokens).values(id=token_id, person=person,
                                                   token_hash=token_hash,
                                                   created=iso(self.now()), revoked=False))

    def token_hash(self, token_id: str) -> tuple[str, str] | None:
        """(person, token hash) of a live token, or None when unknown or revoked."""
        with self.engine.connect() as conn:
            row = conn.execute(select(api_tokens.c.person, api_tokens.c.token_hash)
                               .where(api_tokens.c.id == token_id,
                                      api_tokens.c.revoked.is_(False))).first()
        return None if row is None else (str(row[0]), str(row[1]))

    def touch_token(self, token_id: str) -> None:
        """Note that a token was just used."""
        with self.engine.begin() as conn:
            conn.execute(update(api_tokens).where(api_tokens.c.id == token_id)
                         .values(last_used=iso(self.now())))

    def revoke_token(self, token_id: str) -> bool:
        """Mark a token revoked; False when no token has this id."""
        with self.engine.begin() as conn:
            done = conn.execute(update(api_tokens).where(api_tokens.c.id == token_id)
                                .values(revoked=True))
        return done.rowcount > 0

    def revoke_tokens(self, person: str) -> int:
        """Revoke every live token of a person; how many were."""
        with self.engine.begin() as conn:
            done = conn.execute(update(api_tokens).where(api_tokens.c.person == person,
                                                         api_tokens.c.revoked.is_(False))
                                .values(revoked=True))
        return done.rowcount

    def tokens(self, person: str | None = None) -> list[TokenInfo]:
        """Tokens, oldest first, of everyone or of one person."""
        query = select(api_tokens.c.id, api_tokens.c.person, api_tokens.c.created,
                       api_tokens.c.last_used, api_tokens.c.revoked)
        if person is not None:
            query = query.where(api_tokens.c.person == person)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(api_tokens.c.created, api_tokens.c.id)).all()
        return [TokenInfo(r[0], r[1], datetime.fromisoformat(r[2]),
                          datetime.fromisoformat(r[3]) if r[3] else None, bool(r[4]))
                for r in rows]

    # --- failed logins ------------------------------------------------------------------

    def failures(self, key: str) -> tuple[int, datetime] | None:
        """(count, window start) of the failures recorded under `key`, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(select(login_failures.c["count"], login_failures.c.window_start)
                               .where(login_failures.c.key == key)).first()
        return None if row is None else (int(row[0]), datetime.fromisoformat(row[1]))

    def add_failure(self, key: str, window: timedelta) -> None:
        """Count one failure under `key`: in the open window, or starting a new one now."""
        now = self.now()
        stmt = self._insert(login_failures).values(key=key, count=1, window_start=iso(now))
        is_open = login_failures.c.window_start > iso(now - window)
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={
            "count": case((is_open, login_failures.c["count"] + 1), else_=1),
            "window_start": case((is_open, login_failures.c.window_start),
                                 else_=stmt.excluded.window_start)})
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def clear_failures(self, key: str) -> None:
        """Forget the failures recorded under `key`."""
        with self.engine.begin() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.key == key))

    # --- throttling (growing delays) ------------------------------------------------------

    def throttle(self, key: str) -> tuple[int, datetime] | None:
        """(failures, latest failure) recorded under `key`, if any."""
        t = login_throttle.c
        with self.engine.connect() as conn:
            row = conn.execute(select(t["count"], t.last).where(t.key == key)).first()
        return None if row is None else (int(row[0]), datetime.fromisoformat(row[1]))

    def note_failure(self, key: str, forget: timedelta) -> None:
        """Count one failure under `key` now; failures older than `forget` start afresh."""
        now = self.now()
        t = login_throttle.c
        stmt = self._insert(login_throttle).values(key=key, count=1, last=iso(now))
        recent = t.last > iso(now - forget)
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={
            "count": case((recent, t["count"] + 1), else_=1), "last": stmt.excluded.last})
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def clear_throttle(self, key: str | None = None, *, prefix: str | None = None) -> int:
        """Forget the failures under one key, or under every key starting with `prefix`."""
        t = login_throttle.c
        where = t.key == key if prefix is None else t.key.startswith(prefix, autoescape=True)
        with self.engine.begin() as conn:
            return conn.execute(delete(login_throttle).where(where)).rowcount
