"""Incidents for the pages: open and recent ones, and one incident's plan and timeline."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from baton.engine.coordinate import Incident
from baton.engine.plan import fold_plan
from baton.escalation.rules import chain_end
from baton.model import Escalation
from baton.web.host import EngineHost

MAX_ENTITIES = 60  # services whose decisions make up one incident's timeline
SLA_RISK = timedelta(minutes=10)


def _row(i: Incident, now: datetime) -> dict[str, Any]:
    end = i.resolved or now
    return {"id": i.id, "root": i.root, "opened": i.opened, "last_seen": i.last_seen,
            "resolved": i.resolved, "members": sorted(i.members), "situations": i.situations,
            "minutes": int((end - i.opened).total_seconds() // 60)}


def listing(host: EngineHost) -> dict[str, Any]:
    """Open incidents (newest first), recently closed ones, and escalations near their SLA."""
    now = host.now()
    with host.lock:
        coordinator = host.engine.coordinator
        open_ = [_row(i, now) for i in coordinator.open.values()]
        closed = [_row(i, now) for i in host.recent_incidents]
        waiting = list(host.engine.actor.open.values())
    open_.sort(key=lambda r: r["opened"], reverse=True)
    closed.sort(key=lambda r: r["resolved"] or r["opened"], reverse=True)
    return {"open": open_, "closed": closed, "at_risk": sla_at_risk(waiting, now), "now": now}


def sla_at_risk(waiting: list[Escalation], now: datetime) -> list[dict[str, Any]]:
    """Open escalations whose current step ends within SLA_RISK, soonest first."""
    out = []
    for esc in sorted(waiting, key=lambda e: e.deadline):
        left = esc.deadline - now
        if left <= SLA_RISK:
            out.append({"e": esc, "minutes_left": int(left.total_seconds() // 60),
                        "chain_end": chain_end(esc),
                        "last_step": esc.level >= len(esc.chain) - 1})
    return out


def find(host: EngineHost, incident_id: str) -> Incident | None:
    """The open or recently closed incident with this id."""
    with host.lock:
        coordinator = host.engine.coordinator
        found = coordinator.open.get(incident_id)
        if found is None:
            found = next((i for i in host.recent_incidents if i.id == incident_id), None)
    return found


def detail(host: EngineHost, incident: Incident) -> dict[str, Any]:
    """One incident: affected services, the live joint plan, and its timeline."""
    now = host.now()
    org = host.config.org
    entities = [incident.root, *sorted(incident.members)][:MAX_ENTITIES]
    with host.lock:
        actor = host.engine.actor
        plans = [actor.plans[p].view() for p in actor.plans_of.get(incident.id, [])
                 if p in actor.plans]
    start = incident.opened - timedelta(minutes=1)
    end = (incident.resolved or now) + timedelta(minutes=1)
    records: list[dict[str, Any]] = []
    for entity in entities:
        for r in host.store.decisions(limit=50, filters={"entity": entity}):
            if start <= _at(r["time"]) <= end:
                records.append(r)
    if not plans:  # finished plans leave the engine: put the newest back from its records
        from baton.web.views import plan_records

        mine = [r for r in records if r.get("plan")
                and r["plan"].get("incident") == incident.id][:1]
        whole = fold_plan([r["plan"] for r in plan_records(host, mine[0])]) if mine else None
        plans = [whole] if whole else []
    services = [{"id": e, "tier": org.service[e].tier if e in org.service else None,
                 "team": org.service[e].team if e in org.service else "",
                 "root": e == incident.root} for e in entities]
    from baton.web.views import graph_data

    focus = graph_data(org, hot=set(entities), only=set(entities), root=incident.root)
    return {"incident": _row(incident, now), "services": services, "plans": plans,
            "graph": focus,
            "timeline": timeline(host, records), "now": now}


def _at(text: Any) -> datetime:
    return text if isinstance(text, datetime) else datetime.fromisoformat(str(text))


def timeline(host: EngineHost, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Decisions, escalation pages, people's answers and results, oldest first."""
    items: list[dict[str, Any]] = []
    for r in records:
        answered = str(r.get("event", "")).startswith(("baton.approve:", "baton.reject:"))
        kind = "answer" if answered else "decision"
        items.append({"at": _at(r["time"]), "kind": kind, "id": r["id"],
                      "text": f"{r['situation_kind']} on {r['entity']}: {r['outcome']}",
                      "by": r["decided_by"], "outcome": str(r["outcome"])})
        esc = host.store.escalation("E" + str(r["id"])[1:])
        if esc is None:
            continue
        for step in esc.history:
            if not step.get("paged_at"):
                continue
            items.append({"at": _at(step["paged_at"]), "kind": "page", "id": esc.id,
                          "text": f"paged {step.get('step')}: "
                                  f"{', '.join(step.get('candidates', [])) or 'nobody'}"
                                  f" ({step.get('route', '')})", "by": "baton", "outcome": ""})
        if esc.resolved_at is not None:
            items.append({"at": esc.resolved_at, "kind": "result", "id": esc.id,
                          "text": f"escalation {esc.status}" + (
                              f" by {esc.resolved_by}" if esc.resolved_by
                              else f": {esc.resolution or 'no answer'}"),
                          "by": esc.resolved_by or "baton", "outcome": esc.status})
    items.sort(key=lambda i: (i["at"], i["id"]))
    return items
