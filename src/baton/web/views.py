"""What the pages show, assembled from the store and the engine."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from baton.config import Config
from baton.sim.summary import percentile
from baton.web import svg
from baton.web.host import EngineHost

LATENCY_EDGES = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 100.0]


def overview(host: EngineHost) -> dict[str, Any]:
    """Figures and charts for the overview page."""
    engine = host.engine
    now = host.now()
    since = (now - timedelta(hours=24)).isoformat()
    index = host.store.decision_index(since=since)
    last_hour = [row for row in index if row[0] >= (now - timedelta(hours=1)).isoformat()]
    judged = [row for row in index if row[2] != "none"]
    autonomous = sum(1 for row in judged if row[2] == "autonomous")
    latencies = [row[4] for row in index]
    with host.lock:
        open_escalations = sorted(engine.actor.open.values(), key=lambda e: e.deadline)
        budgets = [{"domain": b.domain, "daily": b.daily,
                    "used": engine.budgets.used(b.domain, now)}
                   for b in engine.config.org.budgets]
        incidents = len(engine.coordinator.open)
        killed = dict(engine.actor.killed)
        in_flight = len(engine.actor.inflight)
    dead = host.store.dead_letters()
    at_risk = [e for e in open_escalations if e.deadline - now <= timedelta(minutes=10)]
    return {
        "now": now,
        "per_minute": round(len(last_hour) / 60.0, 2),
        "decisions_24h": len(index),
        "autonomy_rate": round(100.0 * autonomous / len(judged), 1) if judged else 0.0,
        "p50": round(percentile(latencies, 50), 3),
        "p99": round(percentile(latencies, 99), 3),
        "open_escalations": len(open_escalations),
        "at_risk": len(at_risk),
        "incidents": incidents,
        "in_flight": in_flight,
        "dead_letters": [{"seq": d.seq, "key": d.key, "type": d.type, "error": d.error[:200]}
                         for d in dead[:20]],
        "dead_count": len(dead),
        "budgets": budgets,
        "killed": killed,
        "chart_hours": svg.stacked_bars(_by_hour(index, now)),
        "chart_latency": svg.histogram(latencies, LATENCY_EDGES, unit="ms"),
    }


def _by_hour(index: list[tuple[str, str, str, str, float]],
             now: datetime) -> list[tuple[str, dict[str, int]]]:
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    buckets: list[tuple[str, dict[str, int]]] = [
        ((start + timedelta(hours=h)).strftime("%H:00"), {}) for h in range(24)]
    for time_text, _domain, verdict, _outcome, _ms in index:
        at = datetime.fromisoformat(time_text)
        slot = int((at - start).total_seconds() // 3600)
        if 0 <= slot < 24:
            counts = buckets[slot][1]
            counts[verdict] = counts.get(verdict, 0) + 1
    return buckets


def feed(host: EngineHost, limit: int = 25) -> list[dict[str, Any]]:
    """The latest decisions for the live feed."""
    return host.store.decisions(limit=limit)


def current_outcome(host: EngineHost, record: dict[str, Any]) -> dict[str, Any] | None:
    """What became of an escalated decision since: its escalation's answer and result."""
    esc_id = "E" + str(record["id"])[1:]
    esc = host.store.escalation(esc_id)
    if esc is None:
        return None
    if esc.status == "open":
        return {"escalation": esc.id, "status": "open", "text": f"waiting for {esc.approver}: "
                f"{', '.join(esc.candidates) or 'nobody paged'}", "by": None, "at": None}
    # the answer is a decision of its own, on the escalation; its outcome follows the action
    by = esc.resolved_by or ""
    answers = [r for r in host.store.decisions(limit=50, filters={"decided_by": by})
               if str(r.get("event", "")).split(":")[1:2] == [esc.id]] if by else []
    latest = answers[0] if answers else None
    return {"escalation": esc.id, "status": esc.status,
            "text": latest["outcome"] if latest else (esc.resolution or esc.status),
            "by": esc.resolved_by, "at": esc.resolved_at, "comment": esc.comment,
            "answer": latest["id"] if latest else None}


def dry_run_choices(config: Config) -> dict[str, list[str]]:
    """What the policy dry-run form offers: the organisation's actions, resources, domains."""
    org = config.org
    actions = sorted({c.action for a in config.playbooks.agents
                      for cands in a.playbooks.values() for c in cands})
    return {"actions": actions or ["restart"], "domains": sorted(org.domain),
            "resources": sorted(s.id for s in org.services)}


def latest_plan(host: EngineHost, record: dict[str, Any]) -> dict[str, Any] | None:
    """The newest record of the same joint plan, when it is newer than `record`."""
    plan = record.get("plan")
    if not plan:
        return None
    for r in host.store.decisions(limit=20, filters={"entity": str(record["entity"]),
                                                     "situation_kind": "plan"}):
        if (r.get("plan") or {}).get("id") == plan.get("id"):
            return r if r["id"] != record["id"] and r["time"] >= record["time"] else None
    return None
