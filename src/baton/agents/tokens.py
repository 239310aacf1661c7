"""API tokens of outside agents: stored beside people's tokens, owned by `agent:<id>`."""

from __future__ import annotations

import secrets

from baton.auth.service import TOKEN_PREFIX, Auth, sha256_hex
from baton.errors import NotFoundError
from baton.org.model import Organisation

OWNER_PREFIX = "agent:"
_MAX_TOKEN = 256


def create_agent_token(auth: Auth, agent: str) -> tuple[str, str]:
    """A new token for an agent of the organisation: (public id, text shown once)."""
    org = auth.org
    if agent not in org.agent:
        raise NotFoundError(f"{agent!r} is not an agent of the organisation {org.name!r} "
                            f"(agents: {', '.join(sorted(org.agent)) or 'none declared'})")
    token_id = secrets.token_hex(6)
    plaintext = f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    auth.store.add_token(token_id, OWNER_PREFIX + agent, sha256_hex(plaintext))
    return token_id, plaintext


def agent_of_token(auth: Auth, plaintext: str, org: Organisation) -> str | None:
    """The agent a token authenticates, or None (unknown, revoked, a person's token, or
    an agent no longer declared)."""
    parts = plaintext.split("_", 2)
    if len(plaintext) > _MAX_TOKEN or len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    found = auth.store.token_hash(parts[1])
    if found is None or not secrets.compare_digest(found[1], sha256_hex(plaintext)):
        return None
    owner = found[0]
    if not owner.startswith(OWNER_PREFIX) or owner[len(OWNER_PREFIX):] not in org.agent:
        return None
    auth.store.touch_token(parts[1])
    return owner[len(OWNER_PREFIX):]


def bearer(header: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header ('' when there is none)."""
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return ""
