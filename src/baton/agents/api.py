"""The agent API: outside agents propose actions with their own token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Request

from baton.agents import answers, service
from baton.agents.service import ProposalBody
from baton.agents.tokens import agent_of_token, bearer
from baton.web.body import StrictJsonRoute
from baton.web.errors import ApiError, declare
from baton.web.host import EngineHost
from baton.web.security import principal_of


def require_agent(request: Request) -> None:
    """Refuse before anything else unless the request carries an agent's token."""
    request.state.agent = agent_of(request)


router = APIRouter(prefix="/api", tags=["agents"], route_class=StrictJsonRoute,
                   responses=declare(400, 401, 403, 413, 422),
                   dependencies=[Depends(require_agent)])


def _host(request: Request) -> EngineHost:
    host: EngineHost = request.app.state.host
    return host


def agent_of(request: Request) -> str:
    """The agent whose token the request carries; 401 otherwise."""
    found = agent_of_token(request.app.state.auth, bearer(request.headers.get("authorization")),
                           _host(request).config.org)
    if found is None:
        person = principal_of(request)
        if person is not None:
            raise ApiError(403, f"{person.person} is a person: this route takes an agent's "
                                "token (`baton token create --agent ID` makes one)")
        raise ApiError(401, "send an agent's token as 'Authorization: Bearer <token>' "
                            "(`baton token create --agent ID` makes one)")
    return found


@router.post("/proposals", responses=declare(404))
def propose(request: Request, body: ProposalBody) -> dict[str, Any]:
    """Propose an action as the calling agent: the answer is executed, pending (with the
    escalation), denied (with the reason and policies), conflicted (with who holds the
    resource) or failed."""
    return service.propose(_host(request), request.state.agent, body)


@router.get("/proposals/{proposal_id}", responses=declare(404))
def get_proposal(request: Request,
                 proposal_id: str = Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")) -> dict[str, Any]:
    """What became of one of the calling agent's proposals."""
    agent: str = request.state.agent
    host = _host(request)
    found = answers.answer(host.store, agent, proposal_id)
    service.record_call(host, agent, "get_proposal", {"id": proposal_id}, found)
    return found
