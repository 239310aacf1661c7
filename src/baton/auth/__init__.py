"""Authentication: who is calling, and with which access (from the organisation)."""

from baton.auth.admin import open_auth, seed_demo_logins
from baton.auth.errors import AuthError, RateLimited
from baton.auth.passwords import MIN_LENGTH as MIN_PASSWORD_LENGTH
from baton.auth.roles import ROLES, Principal, at_least
from baton.auth.service import Auth, Session
from baton.auth.tables import AuthStore, TokenInfo

__all__ = ["MIN_PASSWORD_LENGTH", "ROLES", "Auth", "AuthError", "AuthStore", "Principal",
           "RateLimited", "Session", "TokenInfo", "at_least", "open_auth", "seed_demo_logins"]
