"""Act: answer escalations, the kill switch, and dry-runs against the policies."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from baton.app import (
    answer_event,
    answer_record,
    current_objectives,
    kill_switch_event,
    objectives_event,
)
from baton.errors import InputError
from baton.governance.gate import GateRequest, cap
from baton.model import Action, Proposal, Situation, limits
from baton.web.body import StrictJsonRoute
from baton.web.errors import declare
from baton.web.host import EngineHost
from baton.web.security import principal_of

router = APIRouter(prefix="/api", tags=["act"], route_class=StrictJsonRoute,
                   responses=declare(400, 401, 403, 413, 422))


class Answer(BaseModel):
    """A person's answer to an escalation."""

    model_config = ConfigDict(extra="forbid")

    comment: str = Field(default="", max_length=2000)


class Modification(Answer):
    """Approve with changed parameters; the changed action is checked by Cedar again."""

    params: dict[str, Any] = Field(default_factory=dict)
    amount: int | None = Field(default=None, ge=0, le=10**9)


def answer(host: EngineHost, escalation_id: str, person: str, *, approve: bool,
           comment: str, params: dict[str, Any] | None = None,
           amount: int | None = None) -> dict[str, Any]:
    """Answer an escalation as `person`; returns the human decision record."""

    event = host.run(lambda engine: answer_event(
        engine, escalation_id, person, approve=approve, comment=comment, at=host.now(),
        params=params, amount=amount, source="api"))
    host.submit([event])  # decided before it returns (a replica: once the leader has)
    return host.run(lambda engine: answer_record(engine, event))


def _person(request: Request) -> str:
    who = principal_of(request)
    assert who is not None  # the access rule admits only signed-in callers
    return who.person


def _host(request: Request) -> EngineHost:
    host: EngineHost = request.app.state.host
    return host


@router.post("/escalations/{escalation_id}/approve", responses=declare(404, 409))
def approve(request: Request, escalation_id: str, body: Answer | None = None) -> dict[str, Any]:
    """Approve an open escalation as the caller: its action runs now."""
    return answer(_host(request), escalation_id, _person(request), approve=True,
                  comment=body.comment if body else "")


@router.post("/escalations/{escalation_id}/reject", responses=declare(404, 409))
def reject(request: Request, escalation_id: str, body: Answer | None = None) -> dict[str, Any]:
    """Reject an open escalation as the caller: its action never runs."""
    return answer(_host(request), escalation_id, _person(request), approve=False,
                  comment=body.comment if body else "")


@router.post("/escalations/{escalation_id}/modify", responses=declare(404, 409))
def modify(request: Request, escalation_id: str, body: Modification) -> dict[str, Any]:
    """Approve with modified parameters, if the modified action stays within policy."""
    if not body.params and body.amount is None:
        raise InputError("a modification needs 'params' or 'amount'")
    limits.check_data(body.params, "", "params", depth=limits.MAX_DEPTH - 1)  # attrs.params
    return answer(_host(request), escalation_id, _person(request), approve=True,
                  comment=body.comment, params=body.params, amount=body.amount)


class KillSwitch(BaseModel):
    """Turn autonomous action off (on = stop) globally or for one domain."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool
    domain: str | None = Field(default=None, max_length=100)
    comment: str = Field(default="", max_length=2000)


@router.post("/kill-switch")
def kill_switch(request: Request, body: KillSwitch) -> dict[str, Any]:
    """Set the kill switch; every autonomous verdict becomes an escalation from the next
    event on while it is on."""
    host = _host(request)
    host.submit([kill_switch_event(host.config.org, enabled=body.enabled, domain=body.domain,
                                   by=_person(request), at=host.now(), comment=body.comment,
                                   source="api")])
    killed = host.engine.actor.killed
    return {"global": bool(killed.get("*")),
            "domains": sorted(d for d, on in killed.items() if on and d != "*")}


class ObjectivesChange(BaseModel):
    """New weights for some objectives (each >= 0); the others stay as they are."""

    model_config = ConfigDict(extra="forbid")

    speed: float | None = Field(default=None, ge=0, le=1e6, strict=True)
    cost: float | None = Field(default=None, ge=0, le=1e6, strict=True)
    risk: float | None = Field(default=None, ge=0, le=1e6, strict=True)
    customer_impact: float | None = Field(default=None, ge=0, le=1e6, strict=True)
    comment: str = Field(default="", max_length=2000)


@router.get("/objectives")
def objectives(request: Request) -> dict[str, float]:
    """The weights coordination optimises now (speed, cost, risk, customer impact)."""
    host = _host(request)
    return dict(host.run(current_objectives).model_dump())


@router.put("/objectives")
def change_objectives(request: Request, body: ObjectivesChange) -> dict[str, float]:
    """Change objective weights from the next decision on; the change is a ledger record."""
    host = _host(request)
    weights = body.model_dump(exclude_none=True, exclude={"comment"})
    if not weights:
        raise InputError("give at least one of speed, cost, risk, customer_impact")
    event = host.run(lambda engine: objectives_event(
        engine, weights, by=_person(request), at=host.now(), comment=body.comment,
        source="api"))
    host.submit([event])
    return dict(host.run(current_objectives).model_dump())


class PolicyCheck(BaseModel):
    """A hypothetical action to judge against the policies; nothing runs."""

    model_config = ConfigDict(extra="forbid")

    action: str = Field(min_length=1, max_length=100)
    resource: str = Field(min_length=1, max_length=200)
    resource_type: str = Field(default="Service", pattern=r"^[A-Z][A-Za-z0-9_]{0,49}$")
    domain: str = Field(min_length=1, max_length=100)
    agent: str | None = Field(default=None, max_length=100)
    amount: int = Field(default=0, ge=0, le=10**9)
    risk: int = Field(default=0, ge=0, le=100)
    confidence: int = Field(default=100, ge=0, le=100)
    severity: int = Field(default=2, ge=0, le=4)
    situation: str = Field(default="dry-run", max_length=100)
    credential_leaked: bool = False


def dry_run(host: EngineHost, req: PolicyCheck) -> dict[str, Any]:
    """The verdict the gate would give now, before and after the caps; nothing is written."""
    engine = host.engine
    org = engine.config.org
    if req.domain not in org.domain:
        raise InputError(f"unknown domain {req.domain!r} (known: {', '.join(sorted(org.domain))})")
    agent = req.agent or next((a.id for a in engine.agents if a.domain == req.domain), None)
    if agent is None:
        raise InputError(f"no agent acts for domain {req.domain!r}; name one with 'agent'")
    with host.lock:
        now = host.now()
        situation = Situation(id="dry-run", kind=req.situation, entity=req.resource,
                              domain=req.domain, detector="dry-run", severity=req.severity,
                              time=now, facts={"credential_leaked": req.credential_leaked})
        action = Action(kind=req.action, resource=req.resource,
                        resource_type=req.resource_type, amount=req.amount)
        proposal = Proposal(id="dry-run", agent=agent, domain=req.domain,
                            situation=situation.id, action=action, expected_effect="",
                            risk=req.risk, confidence=req.confidence / 100,
                            rationale="dry run")
        context = engine.actor.context_for(proposal, situation, now)
        (verdict,) = engine.gate.evaluate([GateRequest(agent, req.domain, req.action,
                                                       req.resource, req.resource_type,
                                                       context)])
        level = engine.config.settings.autonomy.level(req.domain, req.action)
        capped = cap(verdict, level=level, killed=engine.actor.killed_scope(req.domain),
                     amount=req.amount,
                     budget_left=engine.budgets.left(req.domain, now))
    book = engine.book
    return {"verdict": verdict.model_dump(mode="json"), "capped": capped.model_dump(mode="json"),
            "autonomy_level": level, "context": context, "agent": agent,
            "policies": [{"id": p, "file": book.info[p].file, "line": book.info[p].line,
                          "text": book.info[p].text} for p in verdict.policy_ids],
            "executed": False}


@router.post("/policies/check")
def policies_check(request: Request, body: PolicyCheck) -> dict[str, Any]:
    """Dry-run a request against the policies: the verdict and the determining policies."""
    return dry_run(_host(request), body)
