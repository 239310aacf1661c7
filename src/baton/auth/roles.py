"""Access levels, their order, and who a request is on behalf of."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from baton.errors import InputError

ROLES = ("viewer", "operator", "approver", "admin")
Via = Literal["session", "token"]


def _rank(role: str) -> int:
    try:
        return ROLES.index(role)
    except ValueError:
        raise InputError(f"unknown access level {role!r} "
                         f"(known, least first: {', '.join(ROLES)})") from None


def at_least(have: str, need: str) -> bool:
    """True when access level `have` includes everything `need` allows."""
    return _rank(have) >= _rank(need)


@dataclass(frozen=True)
class Principal:
    """A signed-in person: their id, name, current access, and how they authenticated."""

    person: str
    name: str
    access: str
    via: Via

    def can(self, need: str) -> bool:
        """True when this principal's access is at least `need`."""
        return at_least(self.access, need)
