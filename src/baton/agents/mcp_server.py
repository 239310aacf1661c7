"""The MCP server for outside agents (the official MCP SDK's MCPServer), mounted at /mcp
on the web app over streamable HTTP, or served over stdio by `baton mcp --agent ID`.

Each tool answers with structured content and is the same call as the agent API's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ValidationError

from baton.agents import answers, service
from baton.agents.service import ProposalBody
from baton.agents.tokens import agent_of_token, bearer
from baton.errors import BatonError
from baton.web.host import EngineHost

T = TypeVar("T")
INSTRUCTIONS = ("Baton governs what you do: propose one action at a time with "
                "propose_action; every proposal passes the organisation's policies, budgets "
                "and approvals, and the answer says whether it was executed, is pending a "
                "person's approval, was denied (and by which policy), or lost to another "
                "agent's action on the same resource (and to whom).")


class Answer(BaseModel):
    """What became of a proposal."""

    status: str  # executed, pending, denied, conflicted, failed
    proposal: str
    agent: str
    decision: str | None = None
    escalation: dict[str, Any] | None = None
    reason: str = ""
    policies: list[str] = []
    winner: dict[str, Any] | None = None
    result: str | None = None
    outcome: str | None = None
    action: dict[str, Any] | None = None


class Items(BaseModel):
    """A list answer."""

    items: list[dict[str, Any]]


def build_server(host: EngineHost, auth: Any, *, agent: str | None = None) -> MCPServer:
    """The MCP server over one engine host: for the agent whose token each request
    carries, or for `agent` alone (stdio, where there are no headers)."""
    server: MCPServer = MCPServer("baton", instructions=INSTRUCTIONS, version="0.1.0")

    def who(ctx: Context) -> str:
        if agent is not None:
            return agent
        headers = ctx.headers or {}
        found = agent_of_token(auth, bearer(headers.get("authorization")), host.config.org)
        if found is None:
            raise ToolError("not authenticated: send the agent's token as "
                            "'Authorization: Bearer <token>'")
        return found

    async def call(ctx: Context, tool: str, arguments: dict[str, Any],
                   work: Callable[[str], T], *, record: bool = True) -> T:
        me = who(ctx)

        def run() -> T:
            found = work(me)
            if record:
                dumped = found.model_dump(mode="json") if isinstance(found, BaseModel) else found
                service.record_call(host, me, tool, arguments, dumped)
            return found

        try:
            return await anyio.to_thread.run_sync(run)
        except BatonError as exc:
            raise ToolError(str(exc)) from None

    @server.tool()
    async def propose_action(kind: str, resource: str, rationale: str, ctx: Context,
                             params: dict[str, Any] | None = None,
                             evidence: dict[str, Any] | None = None, amount: int = 0,
                             risk: int = 0, id: str | None = None) -> Answer:
        """Propose one action on one resource, with your rationale; Baton governs it and
        answers executed, pending (with the escalation), denied (with the policies),
        conflicted (with the winner) or failed."""
        try:
            body = ProposalBody(kind=kind, resource=resource, rationale=rationale,
                                params=params or {}, evidence=evidence or {}, amount=amount,
                                risk=risk, id=id)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ToolError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
        return await call(ctx, "propose_action", {}, lambda me: Answer.model_validate(
            service.propose(host, me, body)), record=False)

    @server.tool()
    async def get_proposal(id: str, ctx: Context) -> Answer:
        """What became of one of your proposals (it may have been approved since)."""
        return await call(ctx, "get_proposal", {"id": id}, lambda me: Answer.model_validate(
            answers.answer(host.store, me, id)))

    @server.tool()
    async def get_picture(ctx: Context) -> dict[str, Any]:
        """The shared operational picture, as far as your domain goes."""
        return await call(ctx, "get_picture", {}, lambda me: service.picture(host, me))

    @server.tool()
    async def list_situations(ctx: Context) -> Items:
        """Open incidents that touch your domain."""
        return await call(ctx, "list_situations", {},
                          lambda me: Items(items=service.situations(host, me)))

    @server.tool()
    async def explain_decision(id: str, ctx: Context) -> dict[str, Any]:
        """Why a decision went as it did: verdict, policies, candidates, context."""
        return await call(ctx, "explain_decision", {"id": id},
                          lambda me: service.explain(host, me, id))

    @server.tool()
    async def list_my_escalations(ctx: Context) -> Items:
        """Your proposals that wait for a person's answer."""
        return await call(ctx, "list_my_escalations", {},
                          lambda me: Items(items=service.my_escalations(host, me)))

    return server
