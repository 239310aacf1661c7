"""Dashboard pages: server-rendered, refreshed live through server-sent events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from baton.errors import BatonError
from baton.model import limits
from baton.web import feed as feeds
from baton.web import incidents, views
from baton.web.api_act import PolicyCheck, answer, dry_run
from baton.web.errors import ApiError
from baton.web.host import EngineHost
from baton.web.render import (
    hide_paths,
    host_of,
    inbox_count,
    redirect_with,
    render,
)
from baton.web.security import principal_of

router = APIRouter(include_in_schema=False)
CLOCK_EVERY = 2.0  # seconds between the stream's clock events (the page's heartbeat)


def _host(request: Request) -> EngineHost:
    return host_of(request)

@router.get("/", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    """Decisions per minute, autonomy rate, latency, escalations, budget burn, feed."""
    host = _host(request)
    return render(request, "overview.html", o=views.overview(host), feed=views.feed(host))


@router.get("/feed", response_class=HTMLResponse)
def feed(request: Request) -> HTMLResponse:
    """The decision feed: filters, search and paging; the first page updates live."""
    query = feeds.query_from(dict(request.query_params))
    found = feeds.feed(_host(request), query)
    return render(request, "feed.html", f=found, feed=found["rows"])


@router.get("/fragments/{name}", response_class=HTMLResponse)
def fragment(request: Request, name: str) -> HTMLResponse:
    """A piece of a page, re-fetched when the stream says something changed."""
    host = _host(request)
    if name == "feed":
        if request.query_params:
            rows = feeds.feed(host, feeds.query_from(dict(request.query_params)))["rows"]
            return render(request, "_feed.html", feed=rows)
        return render(request, "_feed.html", feed=views.feed(host))
    if name == "stats":
        return render(request, "_stats.html", o=views.overview(host))
    if name == "charts":
        return render(request, "_charts.html", o=views.overview(host))
    if name == "incidents":
        return render(request, "_incidents.html", i=incidents.listing(host))
    raise ApiError(404, f"no fragment {name!r}")


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(request: Request) -> HTMLResponse:
    """Open and recent incidents, and escalations whose SLA is at risk."""
    return render(request, "incidents.html", i=incidents.listing(_host(request)))


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, incident_id: str) -> HTMLResponse:
    """One incident: root cause, affected services, live plan steps, timeline."""
    return render(request, "incident.html", i=_incident(request, incident_id))


@router.get("/fragments/incident/{incident_id}", response_class=HTMLResponse)
def incident_fragment(request: Request, incident_id: str) -> HTMLResponse:
    """The live part of an incident page."""
    return render(request, "_incident.html", i=_incident(request, incident_id))


def _incident(request: Request, incident_id: str) -> dict[str, Any]:
    host = _host(request)
    found = incidents.find(host, incident_id)
    if found is None:
        raise ApiError(404, f"no open or recent incident {incident_id!r}; the incidents "
                            "page lists them")
    return incidents.detail(host, found)


@router.get("/stream")
async def stream(request: Request) -> StreamingResponse:
    """Server-sent events: an `update` whenever the engine records something."""
    host = _host(request)
    who = principal_of(request)

    async def events() -> AsyncIterator[str]:
        seen = -1
        quiet = CLOCK_EVERY  # a clock event first
        while not await request.is_disconnected():
            if who is not None:  # an open page keeps its person present
                host.presence.seen(who.person)
            if host.version != seen:
                seen = host.version
                yield f"event: update\ndata: {json.dumps({'version': seen})}\n\n"
            if quiet >= CLOCK_EVERY:  # the header's clock and badge; also a heartbeat
                quiet = 0.0
                clock = {"now": host.now().isoformat(), "inbox": inbox_count(host, who)}
                yield f"event: clock\ndata: {json.dumps(clock)}\n\n"
            await asyncio.sleep(0.5)
            quiet += 0.5

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store"})


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request) -> HTMLResponse:
    """Open escalations; answer buttons only for people who may answer."""
    from baton.escalation.rules import check_answer

    host = _host(request)
    who = principal_of(request)
    now = host.now()
    items: list[dict[str, Any]] = []
    for esc in host.store.escalations(status="open"):
        refusal = check_answer(host.config.org, esc, who.person, at=now) if who else "signed out"
        items.append({"e": esc, "may_answer": refusal is None, "why_not": refusal,
                      "minutes_left": int((esc.deadline - now).total_seconds() // 60)})
    if who is not None:
        host.presence.showing(who.person, [i["e"].id for i in items if i["may_answer"]])
    items.sort(key=lambda i: (not i["may_answer"], i["e"].deadline))
    return render(request, "inbox.html", items=items)


@router.post("/inbox/{escalation_id}")
def answer_form(request: Request, escalation_id: str, decision: str = Form(...),
                comment: str = Form(""), params: str = Form(""),
                amount: str = Form("")) -> Response:
    """Approve, reject or approve-with-changes from the inbox form."""
    who = principal_of(request)
    assert who is not None
    try:
        changed = limits.loads(params, "parameters") if params.strip() else None
        if changed is not None:
            limits.check_data(changed, "", "parameters", depth=limits.MAX_DEPTH - 1)
        new_amount = int(amount) if amount.strip() else None
        record = answer(_host(request), escalation_id, who.person,
                        approve=decision in ("approve", "modify"), comment=comment,
                        params=changed, amount=new_amount)
    except (ApiError, BatonError, ValueError) as exc:
        text = exc.message if isinstance(exc, ApiError) else str(exc)
        return redirect_with(request, "/inbox", "bad", f"{escalation_id}: {text}")
    note = f"{escalation_id}: {record['outcome']} ({record['id']})"
    return redirect_with(request, "/inbox", "ok", note)


@router.get("/decisions/{decision_id}", response_class=HTMLResponse)
def decision(request: Request, decision_id: str) -> HTMLResponse:
    """Why: event, situation, proposals, policies, budget context, ledger hash."""
    from baton.web.explain import explanation

    host = _host(request)
    record = host.store.decision(decision_id)
    if record is None:
        raise ApiError(404, f"no decision {decision_id!r}")
    from baton.web import explain

    plan, later_plan = views.plan_views(host, record)
    return render(request, "decision.html", d=record, now_outcome=views.current_outcome(
        host, record), x=explanation(record, host.engine.book), this_plan=plan,
        later_plan=later_plan, verdicts=explain.verdicts(record),
        terms=explain.score_terms(record, host.config, host.engine.objectives),
        context_rows=explain.context_rows(record.get("context") or {}),
        rationale=explain.linked(explain.rationale_text(str(record.get("rationale", "")))),
        linked=explain.linked)


@router.get("/organisation", response_class=HTMLResponse)
def organisation(request: Request) -> HTMLResponse:
    """Teams, people in their local time, who is on call, and the dependency graph."""
    host = _host(request)
    org = host.config.org
    now = host.now()
    with host.lock:
        hot = {i.root for i in host.engine.coordinator.open.values()}
    oncall = {t.id: org.oncall(t.id, now) for t in org.teams}
    return render(request, "organisation.html", org=org, oncall=oncall,
                  graph=views.graph_data(org, hot=hot), people=[
                      (p, p.local(now).strftime("%a %H:%M"), p.working(now))
                      for p in org.people])


@router.get("/policies", response_class=HTMLResponse)
def policies(request: Request) -> HTMLResponse:
    """The Cedar policies, and a form to dry-run a request against them."""
    host = _host(request)
    return render(request, "policies.html", book=host.engine.book, result=None, form={},
                  choices=views.dry_run_choices(host.config))


@router.post("/policies", response_class=HTMLResponse)
def policies_dry_run(request: Request, action: str = Form(...), resource: str = Form(...),
                     domain: str = Form(...), amount: int = Form(0),
                     risk: int = Form(0)) -> HTMLResponse:
    """Dry-run: the verdict and the determining policies; nothing is executed."""
    host = _host(request)
    form = {"action": action, "resource": resource, "domain": domain, "amount": amount,
            "risk": risk}
    try:
        result: Any = dry_run(host, PolicyCheck(action=action, resource=resource, domain=domain,
                                                amount=amount, risk=risk))
    except (BatonError, ValueError) as exc:
        result = {"error": hide_paths(str(exc), host.config.root)}
    return render(request, "policies.html", book=host.engine.book, result=result, form=form,
                  choices=views.dry_run_choices(host.config))


@router.get("/kill-switch", response_class=HTMLResponse)
def kill_switch_page(request: Request) -> HTMLResponse:
    """The kill switch, for admins."""
    host = _host(request)
    return render(request, "killswitch.html", killed=dict(host.engine.actor.killed),
                  domains=[d.id for d in host.config.org.domains])


@router.post("/kill-switch")
def kill_switch_form(request: Request, enabled: str = Form(...), domain: str = Form(""),
                     confirm: str = Form(""), comment: str = Form("")) -> Response:
    """Turn the kill switch on (after a confirmation) or off from the form."""
    from baton.web.api_act import KillSwitch, kill_switch

    scope = domain or "everything"
    if enabled == "on" and confirm != "yes":
        return redirect_with(request, "/kill-switch", "bad", "The kill switch stayed off: "
                             f"tick the box to confirm stopping autonomous action in {scope}")
    kill_switch(request, KillSwitch(enabled=enabled == "on", domain=domain or None,
                                    comment=comment[:2000]))
    state = "on: autonomous verdicts become escalations" if enabled == "on" else "off"
    return redirect_with(request, "/kill-switch", "ok", f"Kill switch for {scope} {state}")


@router.get("/report", response_class=HTMLResponse)
def report(request: Request) -> HTMLResponse:
    """The latest value report (from `baton replay` or `baton simulate`), as written."""
    from baton.web.host import latest_report

    host = _host(request)
    found = latest_report(host.reports)
    if found is None:
        folder = host.reports.name if host.reports is not None else "(none)"
        return render(request, "report.html", folder=folder, figures=views.run_figures(host))
    return HTMLResponse(found.read_text(encoding="utf-8"))
