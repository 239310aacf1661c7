"""Administration helpers: open authentication on a database, seed the demo's logins."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from baton.auth.roles import ROLES
from baton.auth.service import Auth
from baton.auth.tables import AuthStore
from baton.org.model import Organisation


@contextmanager
def open_auth(db: str) -> Iterator[Auth]:
    """Authentication on an existing database, for the people of the configuration it remembers."""
    from baton.app import config_for
    from baton.store import open_store

    store = open_store(db, create=False)
    try:
        org = config_for(store, None).org
        yield Auth(AuthStore(store.engine), org)
    finally:
        store.close()


def seed_demo_logins(auth: Auth, org: Organisation, *,
                     password: str) -> list[tuple[str, str]]:
    """Give the first person of each access level `password`; returns (person id, access)."""
    seeded: list[tuple[str, str]] = []
    for access in reversed(ROLES):
        first = next((p for p in org.people if p.access == access), None)
        if first is not None:
            auth.set_password(first.id, password)
            seeded.append((first.id, access))
    return seeded
