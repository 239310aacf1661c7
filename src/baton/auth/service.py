"""Signing in: passwords with rate limiting, cookie sessions with CSRF, and API tokens."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher

from baton.auth.errors import RateLimited
from baton.auth.passwords import Passwords
from baton.auth.roles import Principal, Via
from baton.auth.tables import AuthStore, TokenInfo
from baton.errors import NotFoundError
from baton.org.model import Organisation, Person

SESSION_TTL = timedelta(hours=12)
#: wrong passwords for one person from one address before each try must wait
MAX_FAILURES = 5
#: wrong passwords from one address, for anyone, before each try from there must wait
ADDRESS_FAILURES = 20
#: the first wait; each further failure doubles it, up to MAX_DELAY
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)
#: failures older than this are forgotten
FAILURE_WINDOW = timedelta(hours=1)
TOKEN_PREFIX = "baton"
_MAX_SECRET = 256  # longer cookies or tokens are never ours: refuse before hashing

OrgSource = Organisation | Callable[[], Organisation]


def sha256_hex(text: str) -> str:
    """The sha256 of a text, as hex: how cookies and tokens are stored."""
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


@dataclass(frozen=True)
class Session:
    """A new session: `cookie` is its only copy (the database keeps a hash)."""

    cookie: str
    csrf: str
    person: str
    expires: datetime


class Auth:
    """Authentication against the organisation: rights follow its people's `access`."""

    def __init__(self, store: AuthStore, org: OrgSource, *, hasher: PasswordHasher | None = None,
                 session_ttl: timedelta = SESSION_TTL, max_failures: int = MAX_FAILURES,
                 failure_window: timedelta = FAILURE_WINDOW) -> None:
        self.store = store
        self._org = org
        self.passwords = Passwords(hasher)
        self.session_ttl = session_ttl
        self.max_failures = max_failures
        self.failure_window = failure_window

    @property
    def org(self) -> Organisation:
        """The organisation as it is now."""
        return self._org if isinstance(self._org, Organisation) else self._org()

    def person(self, person: str) -> Person:
        """A person of the organisation; NotFoundError naming the id otherwise."""
        found = self.org.person.get(person)
        if found is None:
            raise NotFoundError(f"{person!r} is not a person of the organisation "
                                f"{self.org.name!r}")
        return found

    def _principal(self, person: str, via: Via) -> Principal | None:
        found = self.org.person.get(person)
        if found is None:
            return None
        return Principal(found.id, found.name or found.id, found.access, via)

    # --- passwords and login -------------------------------------------------------------

    def set_password(self, person: str, password: str) -> int:
        """Set a person's password; their sessions end, their API tokens are revoked and
        their failed logins are forgotten. Returns how many tokens were revoked."""
        self.person(person)
        self.store.put_password_hash(person, self.passwords.hash(password))
        self.store.delete_sessions(person=person)
        self.unlock(person)
        return self.store.revoke_tokens(person)

    def password_set(self) -> set[str]:
        """Ids of the people who have a password."""
        return self.store.people_with_passwords()

    def login(self, person: str, password: str, *, ip: str | None) -> Session | None:
        """A new session when the password is right, else None; RateLimited while this
        person must wait at this address (or this address for everyone).

        Failures count per person and address, so wrong passwords typed elsewhere never
        lock a person out where she is; past MAX_FAILURES each try waits FIRST_DELAY,
        doubling per failure up to MAX_DELAY. An address that fails ADDRESS_FAILURES
        times, for anyone, waits the same way.
        """
        keys = [(_pair_key(person, ip), self.max_failures, person)]
        if ip:
            keys.append((_ip_key(ip), ADDRESS_FAILURES, f"address {ip}"))
        self._refuse_if_limited(person, ip, keys)
        known = person in self.org.person
        stored = self.store.password_hash(person) if known else None
        if not self.passwords.verify(stored, password) or stored is None:
            for key, _, _ in keys:
                self.store.note_failure(key, self.failure_window)
            return None
        self.store.clear_throttle(keys[0][0])
        if self.passwords.needs_rehash(stored):
            self.store.put_password_hash(person, self.passwords.hasher.hash(password))
        self.store.delete_sessions(expired=True)
        return self.open_session(person)

    def _refuse_if_limited(self, person: str, ip: str | None,
                           keys: list[tuple[str, int, str]]) -> None:
        now = self.store.now()
        waits: list[tuple[int, str]] = []
        for key, free, who in keys:
            found = self.store.throttle(key)
            if found is None or found[0] < free:
                continue
            delay = min(FIRST_DELAY * 2 ** min(found[0] - free, 20), MAX_DELAY)
            left = (found[1] + delay - now).total_seconds()
            if left > 0:
                waits.append((math.ceil(left), f"{who} from {ip}" if key == keys[0][0]
                              and ip else who))
        if waits:
            wait, who = max(waits)
            raise RateLimited(who, wait)

    def unlock(self, person: str) -> int:
        """Forget a person's failed logins at every address (an admin's unlock); how many
        addresses were waiting."""
        self.store.clear_failures(_person_key(person))
        return self.store.clear_throttle(prefix=f"pair:{person[:200]}|")

    # --- sessions ------------------------------------------------------------------------

    def open_session(self, person: str) -> Session:
        """Start a session for a person of the organisation (after checking who they are)."""
        self.person(person)
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = self.store.now() + self.session_ttl
        self.store.add_session(sha256_hex(cookie), person, csrf, expires)
        return Session(cookie, csrf, person, expires)

    def _live_session(self, cookie: str) -> tuple[str, str] | None:
        if len(cookie) > _MAX_SECRET:
            return None
        id_hash = sha256_hex(cookie)
        row = self.store.session(id_hash)
        if row is None:
            return None
        if row.expires <= self.store.now():
            self.store.delete_sessions(id_hash=id_hash)
            return None
        return row.person, row.csrf

    def session_principal(self, cookie: str) -> Principal | None:
        """Who a session cookie signs in, or None when unknown, expired or no longer a person."""
        live = self._live_session(cookie)
        return None if live is None else self._principal(live[0], "session")

    def csrf_token(self, cookie: str) -> str | None:
        """The CSRF token of a live session, for forms and the X-CSRF-Token header."""
        live = self._live_session(cookie)
        return None if live is None else live[1]

    def check_csrf(self, cookie: str, token: str) -> bool:
        """True when `token` is the CSRF token of the live session `cookie` (constant time)."""
        expected = self.csrf_token(cookie)
        return expected is not None and _same(expected, token)

    def logout(self, cookie: str) -> None:
        """End a session (nothing happens when it is unknown)."""
        if len(cookie) <= _MAX_SECRET:
            self.store.delete_sessions(id_hash=sha256_hex(cookie))

    # --- API tokens ----------------------------------------------------------------------

    def create_token(self, person: str) -> tuple[str, str]:
        """A new API token of a person: (public id, text shown once as baton_<id>_<secret>)."""
        self.person(person)
        token_id = secrets.token_hex(6)
        plaintext = f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        self.store.add_token(token_id, person, sha256_hex(plaintext))
        return token_id, plaintext

    def revoke_token(self, token_id: str) -> None:
        """Revoke a token for good; NotFoundError when no token has this id."""
        if not self.store.revoke_token(token_id):
            raise NotFoundError(f"no API token {token_id!r}")

    def list_tokens(self, person: str | None = None) -> list[TokenInfo]:
        """Tokens (never their secrets), of everyone or of one person."""
        return self.store.tokens(person)

    def token_principal(self, plaintext: str) -> Principal | None:
        """Who a token authenticates, or None when unknown, revoked or no longer a person."""
        parts = plaintext.split("_", 2)
        if len(plaintext) > _MAX_SECRET or len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            return None
        found = self.store.token_hash(parts[1])
        if found is None or not _same(found[1], sha256_hex(plaintext)):
            return None
        principal = self._principal(found[0], "token")
        if principal is not None:
            self.store.touch_token(parts[1])
        return principal


def _person_key(person: str) -> str:
    return f"person:{person[:200]}"


def _pair_key(person: str, ip: str | None) -> str:
    return f"pair:{person[:200]}|{(ip or '-')[:90]}"


def _ip_key(ip: str) -> str:
    return f"ip:{ip[:90]}"
