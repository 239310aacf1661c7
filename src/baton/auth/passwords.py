"""Password hashing with argon2id, and the rules a new password must meet."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from baton.errors import InputError

MIN_LENGTH = 10
MAX_LENGTH = 1024  # long enough for any passphrase, short enough not to be a hashing DoS


def cheap_hasher() -> PasswordHasher:
    """A fast, weak hasher for tests only (never for real passwords)."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class Passwords:
    """Hash, verify and upgrade passwords with one argon2 hasher."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    @staticmethod
    def check(password: str) -> None:
        """Raise InputError unless `password` is acceptable as a new password."""
        if len(password) < MIN_LENGTH:
            raise InputError(f"a password needs at least {MIN_LENGTH} characters "
                             f"(this one has {len(password)})")
        if len(password) > MAX_LENGTH:
            raise InputError(f"a password may have at most {MAX_LENGTH} characters "
                             f"(this one has {len(password)})")

    def hash(self, password: str) -> str:
        """The argon2 hash of an acceptable new password."""
        self.check(password)
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """True when `password` matches `stored`; a missing hash costs the same and fails."""
        if stored is None:
            if self._dummy is None:
                self._dummy = self.hasher.hash("baton-no-password-set")
            self._verify(self._dummy, password)
            return False
        return self._verify(stored, password)

    def _verify(self, stored: str, password: str) -> bool:
        if len(password) > MAX_LENGTH:
            return False
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """True when `stored` was made with weaker parameters than the current hasher's."""
        return self.hasher.check_needs_rehash(stored)
