"""What outside agents may ask of Baton, shared by the agent API and the MCP server.

A proposal enters as an `agent.proposal` event through the engine's own ingest, so it is
decided, governed, arbitrated, escalated and recorded exactly as Baton's own proposals
are. Every other call is an `agent.call` event: a ledger record naming the agent, the
tool, its arguments and a digest of the answer.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from baton.agents import answers
from baton.agents.roster import CALL, PROPOSAL, event_key
from baton.engine.pipeline import Engine
from baton.errors import ForbiddenError, InputError, NotFoundError
from baton.model import Event
from baton.web.host import EngineHost

#: how long a proposal's answer waits for the result of an action it dispatched
RESULT_WAIT_S = 3.0


class ProposalBody(BaseModel):
    """One action an agent proposes, with why and on what evidence."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_.-]*$")
    resource: str = Field(min_length=1, max_length=200)
    rationale: str = Field(min_length=1, max_length=4000)
    params: dict[str, Any] = Field(default_factory=dict)
    evidence: dict[str, Any] = Field(default_factory=dict)
    resource_type: str = Field(default="Service", pattern=r"^[A-Z][A-Za-z0-9_]{0,49}$")
    amount: int = Field(default=0, ge=0, le=10**9)
    cost: float = Field(default=0.0, ge=0, le=1e9)
    risk: int = Field(default=0, ge=0, le=100)
    minutes: float = Field(default=5.0, ge=0, le=1e6)
    customer_impact: int = Field(default=0, ge=0, le=100)
    confidence: float = Field(default=1.0, ge=0, le=1)
    severity: int = Field(default=2, ge=0, le=4)
    expected_effect: str = Field(default="", max_length=2000)
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$",
                           description="the agent's own id for the proposal: sending the "
                                       "same id again answers the first, never acts twice")


def proposal_event(engine: Engine, agent: str, body: ProposalBody, *, at: Any,
                   extra: dict[str, Any] | None = None) -> Event:
    """The event that carries an agent's proposal into the log; InputError naming what is
    wrong (an unknown service) before anything is written."""
    org = engine.config.org
    if agent not in org.agent:
        raise NotFoundError(f"{agent!r} is not an agent of the organisation")
    if body.resource_type == "Service" and body.resource not in org.service:
        raise InputError(f"resource {body.resource!r} is not a service of the organisation "
                         f"({len(org.service)} services; GET /api/organisation lists them)")
    pid = body.id or secrets.token_hex(8)
    attrs = body.model_dump(exclude={"id"})
    attrs.update(agent=agent, id=pid, **(extra or {}))
    event = Event(key=event_key(agent, pid), type=PROPOSAL, entity=body.resource, time=at,
                  attrs=attrs, source=f"agent:{agent}")
    engine.validate(event, "proposal")
    return event


def propose(host: EngineHost, agent: str, body: ProposalBody, *,
            wait_s: float = RESULT_WAIT_S) -> dict[str, Any]:
    """Put a proposal to the engine and answer what became of it."""
    event = host.run(lambda engine: proposal_event(engine, agent, body, at=host.now()))
    host.submit([event])
    pid = str(event.attrs["id"])
    found = answers.answer(host.store, agent, pid)
    deadline = time.monotonic() + wait_s
    while found["status"] == "executed" and str(found["result"]).startswith("dispatched") \
            and time.monotonic() < deadline:
        time.sleep(0.05)
        found = answers.answer(host.store, agent, pid)
    return found


def record_call(host: EngineHost, agent: str, tool: str, arguments: dict[str, Any],
                answer: Any) -> None:
    """Write one call of an agent and a digest of its answer to the ledger."""
    digest = hashlib.sha256(orjson.dumps(answer, option=orjson.OPT_SORT_KEYS,
                                         default=str)).hexdigest()
    host.submit([Event(key=f"{CALL}:{agent}:{tool}:{time.time_ns()}", type=CALL,
                       entity=agent, time=host.now(), source=f"agent:{agent}",
                       attrs={"agent": agent, "tool": tool, "arguments": arguments,
                              "answer_digest": digest})])


def _domain_services(engine: Engine, domain: str) -> set[str]:
    org = engine.config.org
    return {s.id for s in org.services if org.team[s.team].domain == domain}


def picture(host: EngineHost, agent: str) -> dict[str, Any]:
    """The shared picture as far as `agent` may see it: its domain's services that are not
    up, its domain's budget and its own."""

    def read(engine: Engine) -> dict[str, Any]:
        spec = engine.config.org.agent[agent]
        mine = _domain_services(engine, spec.domain)
        at = engine.now() if engine.clock is not None else host.now()
        view = engine.picture.snapshot(at, limit=1000)
        down = [s for s in view["services"]["list"] if s["id"] in mine]
        budget = view["budgets"].get(spec.domain)
        return {"agent": agent, "domain": spec.domain, "time": at.isoformat(),
                "services": {"in_domain": len(mine), "not_up": down},
                "domain_budget": budget, "agent_budget": spec.budget,
                "kill_switch": bool(engine.roster.killed.get(agent)),
                "may_propose": list(spec.actions), "autonomy_cap": spec.cap}

    return host.run(read)


def situations(host: EngineHost, agent: str) -> list[dict[str, Any]]:
    """Open incidents that touch the agent's domain."""

    def read(engine: Engine) -> list[dict[str, Any]]:
        mine = _domain_services(engine, engine.config.org.agent[agent].domain)
        return [{"incident": i.id, "root": i.root, "members": sorted(i.members),
                 "opened": i.opened.isoformat(), "situations": i.situations}
                for i in sorted(engine.coordinator.open.values(), key=lambda i: i.id)
                if i.root in mine or i.members & mine]

    return host.run(read)


def explain(host: EngineHost, agent: str, decision: str) -> dict[str, Any]:
    """One decision of the agent's domain with its verdict, policies and candidates."""
    rec = host.store.decision(decision)
    domain = host.config.org.agent[agent].domain
    if rec is None or rec.get("record") != "decision":
        raise NotFoundError(f"no decision {decision!r}")
    if rec.get("decided_by") != agent and rec.get("domain") != domain:
        raise ForbiddenError(f"{agent} may read the decisions of domain {domain} only")
    keys = ("id", "time", "situation", "situation_kind", "entity", "domain", "decided_by",
            "chosen", "action", "proposals", "verdict", "mode", "outcome", "rationale",
            "context")
    return {k: rec.get(k) for k in keys}


def my_escalations(host: EngineHost, agent: str) -> list[dict[str, Any]]:
    """The open escalations that this agent's proposals raised."""
    prefix = f"{agent}/"
    return [{"id": e.id, "decision": e.decision, "proposal": e.situation[len(prefix):],
             "action": e.action, "deadline": e.deadline.isoformat(), "approver": e.approver,
             "candidates": list(e.candidates), "policies": list(e.policy_ids)}
            for e in host.store.escalations(status="open") if e.situation.startswith(prefix)]
