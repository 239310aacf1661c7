"""Read: decisions, escalations, organisation, metrics, policies, audit; and the probes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from baton.engine.pipeline import Engine
from baton.errors import NotFoundError
from baton.ledger.chain import verify
from baton.sim.summary import summarize
from baton.web.errors import declare
from baton.web.explain import explanation
from baton.web.host import EngineHost
from baton.web.security import principal_of
from baton.web.views import plan_views

router = APIRouter(tags=["read"])

OUTCOMES = ("executed", "escalated", "denied", "correlated", "shadowed", "held", "refused",
            "expired", "rejected", "observed", "unhandled", "no-candidate")


def host_of(request: Request) -> EngineHost:
    """The engine host of this app."""
    host: EngineHost = request.app.state.host
    return host


@router.get("/healthz")
def healthz() -> dict[str, bool]:
    """Liveness: the process answers."""
    return {"ok": True}


@router.get("/readyz", responses={503: {
    "description": "The database does not answer, or processing is held",
    "content": {"text/plain": {"schema": {"type": "string"}}}}})
def readyz(request: Request) -> Any:
    """Readiness: the database answers and the engine has rebuilt its state."""
    host = host_of(request)
    try:
        host.store.ping()
    except Exception as exc:  # any driver error means not ready
        return PlainTextResponse(f"database unavailable: {type(exc).__name__}", 503)
    if host.engine.held:
        return PlainTextResponse(f"processing held: {host.engine.held}", 503)
    return {"ready": True, "ledger_rows": host.engine.ledger.seq}


@router.get("/metrics", response_class=PlainTextResponse)
def prometheus_metrics(request: Request) -> PlainTextResponse:
    """Prometheus exposition: decisions by verdict, latency histograms, escalations, budget."""
    body = host_of(request).metrics.render()
    return PlainTextResponse(body.decode(), media_type="text/plain; version=0.0.4")


@router.get("/api/me", responses=declare(401, 403, 422))
def me(request: Request) -> dict[str, Any]:
    """Who the caller is and what access they have."""
    who = principal_of(request)
    assert who is not None  # the access rule admits only signed-in callers
    return {"person": who.person, "name": who.name, "access": who.access, "via": who.via}


@router.get("/api/decisions", responses=declare(401, 403, 422))
def list_decisions(request: Request, limit: int = Query(50, ge=1, le=500),
                   offset: int = Query(0, ge=0, le=10_000_000),
                   domain: str | None = Query(None, max_length=100),
                   outcome: str | None = Query(None, max_length=40),
                   verdict: str | None = Query(None, pattern="^(autonomous|approval|denied)$")
                   ) -> dict[str, Any]:
    """Decisions, newest first, filtered by domain, outcome or verdict, a page at a time."""
    filters = {k: v for k, v in {"domain": domain, "outcome": outcome,
                                 "verdict": verdict}.items() if v}
    items = host_of(request).store.decisions(limit=limit, offset=offset, filters=filters)
    return {"items": items, "limit": limit, "offset": offset, "count": len(items)}


@router.get("/api/decisions/{decision_id}", responses=declare(401, 403, 404, 422))
def get_decision(request: Request, decision_id: str) -> dict[str, Any]:
    """One decision with its explanation: situation, proposals, policies, budget, hash.

    A joint plan's record holds the plan whole only in its first record, later ones the
    steps that changed; `plan_as_of` is the whole plan as of this record."""
    host = host_of(request)
    record = host.store.decision(decision_id)
    if record is None:
        raise NotFoundError(f"no decision {decision_id!r}")
    out = dict(record, explanation=explanation(record, host.engine.book))
    if record.get("plan"):
        out["plan_as_of"] = plan_views(host, record)[0]
    return out


@router.get("/api/escalations", responses=declare(401, 403, 422))
def list_escalations(request: Request, status: str | None = Query(
        None, pattern="^(open|approved|rejected|expired|superseded|fallback)$")
        ) -> dict[str, Any]:
    """Escalations, oldest first, optionally by status."""
    items = [e.model_dump(mode="json")
             for e in host_of(request).store.escalations(status=status)]
    return {"items": items, "count": len(items)}


@router.get("/api/escalations/{escalation_id}", responses=declare(401, 403, 404, 422))
def get_escalation(request: Request, escalation_id: str) -> dict[str, Any]:
    """One escalation."""
    esc = host_of(request).store.escalation(escalation_id)
    if esc is None:
        raise NotFoundError(f"no escalation {escalation_id!r}")
    return esc.model_dump(mode="json")


@router.get("/api/organisation", responses=declare(401, 403, 422))
def organisation(request: Request) -> dict[str, Any]:
    """Teams, people with their local time and on-call, services and dependencies."""
    host = host_of(request)
    org = host.config.org
    now = host.now()
    oncall = {t.id: org.oncall(t.id, now) for t in org.teams}
    return {
        "name": org.name,
        "now": now.isoformat(),
        "domains": [d.model_dump() for d in org.domains],
        "teams": [dict(t.model_dump(), oncall=oncall[t.id]) for t in org.teams],
        "people": [{"id": p.id, "name": p.name, "role": p.role, "team": p.team,
                    "timezone": p.timezone, "local_time": p.local(now).strftime("%H:%M"),
                    "working": p.working(now), "access": p.access,
                    "oncall": p.id in oncall.values()} for p in org.people],
        "services": [s.model_dump() for s in org.services],
    }


@router.get("/api/metrics", responses=declare(401, 403, 422))
def metrics_summary(request: Request) -> dict[str, Any]:
    """The run's figures: events, decisions by verdict, latency, escalations, spend."""
    host = host_of(request)
    with host.lock:
        return summarize(host.engine)


@router.get("/api/policies", responses=declare(401, 403, 422))
def policies(request: Request) -> dict[str, Any]:
    """Every Cedar policy with its verdict annotations and where it is written."""
    book = host_of(request).engine.book
    return {"items": [{"id": p.id, "effect": p.effect, "verdict": p.verdict,
                       "approver": p.approver, "reason": p.reason, "file": p.file,
                       "line": p.line, "text": p.text} for p in book.info.values()]}


@router.get("/api/kill-switch", responses=declare(401, 403, 422))
def kill_switch_state(request: Request) -> dict[str, Any]:
    """Where the kill switch is on: globally and per domain."""
    killed = host_of(request).engine.actor.killed
    return {"global": bool(killed.get("*")),
            "domains": sorted(d for d, on in killed.items() if on and d != "*")}


@router.get("/api/picture", responses=declare(401, 403, 422))
def picture(request: Request, limit: int = Query(default=100, ge=1, le=1000)) -> dict[str, Any]:
    """The shared operational picture: services not up, open work, busy people, budgets,
    and the joint plans still running."""
    host = host_of(request)

    def read(engine: Engine) -> dict[str, Any]:
        at = engine.now() if engine.clock is not None else datetime.now(UTC)
        view = engine.picture.snapshot(at, limit=limit)
        view["plans"] = [{"id": p.id, "incident": p.incident, "root": p.root,
                          "steps": p.summary()} for p in engine.actor.plans.values()][:limit]
        return view

    return host.run(read)


@router.get("/api/audit", responses=declare(401, 403, 422))
def audit(request: Request) -> dict[str, Any]:
    """Walk the ledger's hash chain and say whether it is intact."""
    result = verify(host_of(request).store.ledger_rows())
    return {"ok": result.ok, "rows": result.rows, "head": result.head,
            "bad_seq": result.bad_seq, "bad_id": result.bad_id, "problem": result.problem}


@router.get("/api/work-items", responses=declare(401, 403, 422))
def work_items(request: Request, status: str | None = Query("open", max_length=20),
               limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """Work items the queue connector created for people."""
    items = host_of(request).store.work_items(status=status, limit=limit)
    return {"items": items, "count": len(items)}
