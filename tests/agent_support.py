"""A starter configuration with two outside agents, a live server, and MCP clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from baton.agents.tokens import create_agent_token
from baton.config import Config, load_config
from web_support import Live, live_server

AGENTS = """
agents:
  - {id: copilot, name: SRE copilot, owner: ana, domain: reliability,
     actions: [restart, rollback, scale_out, scale_in, delete_data],
     rate_limit: {count: 6, minutes: 60}}
  - {id: rival, owner: raj, domain: reliability, actions: [scale_in, scale_out, restart]}
"""

POLICY = """
// At most 3 restarts of one service per hour by outside agents.
@id("agents-restart-3-per-hour")
@reason("at most 3 restarts of one service per hour by an outside agent")
forbid (principal, action == Action::"restart", resource)
when { principal has kind && principal.kind != "playbook" && context has kind_actions_hour
       && context.kind_actions_hour >= 3 };
"""


def agent_config(root: Path) -> Config:
    """The starter configuration in `root` with the agents and their policy added."""
    with (root / "org.yaml").open("a", encoding="utf-8") as f:
        f.write(AGENTS)
    (root / "policies" / "agents.cedar").write_text(POLICY, encoding="utf-8")
    return load_config(root)


@contextmanager
def agent_server(root: Path, db: Path) -> Iterator[tuple[Live, dict[str, str]]]:
    """A live server on the agent configuration, with a token per agent."""
    config = agent_config(root)
    with live_server(config, db) as live:
        tokens = {a: create_agent_token(live.auth, a)[1] for a in ("copilot", "rival")}
        yield live, tokens


@asynccontextmanager
async def mcp_client(url: str, token: str) -> AsyncIterator[Client]:
    """The official MCP client over streamable HTTP, sending `token` (none when empty)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http, \
            Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
        yield client


async def propose(client: Client, **arguments: Any) -> dict[str, Any]:
    """Call propose_action and return its structured answer."""
    result = await client.call_tool("propose_action", arguments)
    assert not result.is_error, result.content
    found: dict[str, Any] = result.structured_content
    return found
