"""Errors of signing in: a refused login and a rate-limited one."""

from __future__ import annotations

from baton.errors import BatonError


class AuthError(BatonError):
    """Authentication cannot proceed (other than a plain wrong password)."""


class RateLimited(AuthError):
    """Too many failed logins; no password is checked until `retry_after` seconds pass."""

    def __init__(self, who: str, retry_after: int) -> None:
        self.who = who
        self.retry_after = retry_after
        super().__init__(f"too many failed logins for {who}; try again in {retry_after} s")
