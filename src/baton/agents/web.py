"""The outside agents' part of the web app: the agent API and the MCP endpoint at /mcp."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from baton.agents import api, pages
from baton.agents.mcp_server import build_server
from baton.agents.tokens import agent_of_token, bearer
from baton.web.host import EngineHost

MCP_PATH = "/mcp"


class AgentGate:
    """Lets through to the MCP endpoint only requests that carry an agent's token."""

    def __init__(self, inner: Any, host: EngineHost, auth: Any) -> None:
        self.inner, self.host, self.auth = inner, host, auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        token = bearer(headers.get("authorization"))
        if agent_of_token(self.auth, token, self.host.config.org) is None:
            person = self.auth.token_principal(token) if token else None
            if person is not None:
                refusal = JSONResponse({"error": f"{person.person} is a person: {MCP_PATH} "
                                                 "takes an agent's token"}, status_code=403)
            else:
                refusal = JSONResponse(
                    {"error": "send an agent's token as 'Authorization: Bearer <token>' "
                              "(`baton token create --agent ID` makes one)"}, status_code=401,
                    headers={"WWW-Authenticate": "Bearer"})
            await refusal(scope, receive, send)
            return
        await self.inner(scope, receive, send)


def install(app: FastAPI, host: EngineHost, auth: Any) -> None:
    """Add the agent API and the MCP endpoint (with its session manager's lifespan)."""
    app.include_router(api.router)
    app.include_router(pages.router)
    server = build_server(host, auth)
    # Bearer tokens, never cookies, authenticate here: a rebinding attack has nothing to
    # send, so the SDK's Host-header check (made for cookie-less localhost servers) is off.
    server.streamable_http_app(stateless_http=True, json_response=True,
                               transport_security=TransportSecuritySettings(
                                   enable_dns_rebinding_protection=False))
    gate = AgentGate(StreamableHTTPASGIApp(server.session_manager), host, auth)
    app.router.routes.append(Route(MCP_PATH, endpoint=gate, methods=["GET", "POST", "DELETE"]))
    before = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(inner: Any) -> AsyncIterator[Any]:
        async with server.session_manager.run(), before(inner) as state:
            yield state

    app.router.lifespan_context = lifespan
