"""What the pages show, assembled from the store and the engine."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from baton.config import Config
from baton.engine.plan import fold_plan
from baton.org.model import Organisation
from baton.sim.summary import percentile
from baton.web.host import EngineHost


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
        "chart_hours": hours_chart(_by_hour(index, now), now),
        "chart_latency": latency_chart(latencies),
    }


VERDICT_KEYS = ("autonomous", "approval", "denied", "none")


def hours_chart(buckets: list[tuple[str, dict[str, int]]], now: datetime) -> dict[str, Any]:
    """Decisions per hour by verdict, for the chart script: hour starts and counts."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=len(buckets) - 1)
    return {"kind": "stacked", "x": [int((start + timedelta(hours=h)).timestamp())
                                     for h in range(len(buckets))],
            "series": {k: [b[1].get(k, 0) for b in buckets] for k in VERDICT_KEYS},
            "y": "decisions per hour"}


def latency_edges(top: float) -> list[float]:
    """Bucket edges (ms) in 1-2.5-5 steps from 0.1 ms up to past the slowest decision."""
    edges, base = [], 0.1
    while True:
        for step in (1.0, 2.5, 5.0):
            edges.append(round(base * step, 4))
            if edges[-1] >= top:
                return edges
        base *= 10


def latency_chart(values: list[float]) -> dict[str, Any]:
    """Engine latency histogram whose last bucket holds the slowest decision, with p50-p99."""
    if not values:
        return {"kind": "histogram", "labels": [], "counts": [], "marks": {}}
    edges = latency_edges(max(values))
    counts = [0] * len(edges)
    for v in values:
        counts[next(i for i, e in enumerate(edges) if v <= e)] += 1
    labels = [f"≤{e:g}" for e in edges]
    return {"kind": "histogram", "labels": labels, "counts": counts, "y": "decisions",
            "marks": {p: round(percentile(values, int(p[1:])), 2) for p in ("p50", "p95", "p99")},
            "max": round(max(values), 2)}


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
    from baton.web.feed import annotate

    return annotate(host, host.store.decisions(limit=limit))


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


def plan_records(host: EngineHost, record: dict[str, Any],
                 limit: int = 500) -> list[dict[str, Any]]:
    """The records of `record`'s joint plan, oldest first (the newest `limit` of its root)."""
    plan = record.get("plan") or {}
    found = [r for r in host.store.decisions(limit=limit, filters={
        "entity": str(record["entity"]), "situation_kind": "plan"})
        if (r.get("plan") or {}).get("id") == plan.get("id")]
    return found[::-1]  # the store lists the newest first


def plan_views(host: EngineHost, record: dict[str, Any]
               ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The whole plan as of `record`, and the plan's newest record (its `plan` made whole)
    when it is newer than `record`. A plan's later records hold only the steps that
    changed, so both are put together from its records (`fold_plan`)."""
    if not record.get("plan"):
        return None, None
    records = plan_records(host, record)
    ids = [r["id"] for r in records]
    upto = ids.index(record["id"]) + 1 if record["id"] in ids else len(records)
    here = fold_plan([r["plan"] for r in records[:upto]]) or dict(record["plan"])
    if upto >= len(records):
        return here, None
    latest = dict(records[-1], plan=fold_plan([r["plan"] for r in records]))
    return here, latest


def graph_data(org: Organisation, *, hot: set[str], only: set[str] | None = None,
               root: str | None = None) -> dict[str, Any]:
    """Services and their dependencies for the graph script; `only` keeps a neighbourhood."""
    keep = None if only is None else only | {d for s in org.services if s.id in only
                                             for d in s.dependencies}
    nodes = [{"id": s.id, "tier": s.tier, "team": s.team, "hot": s.id in hot,
              "root": s.id == root} for s in org.services if keep is None or s.id in keep]
    ids = {n["id"] for n in nodes}
    edges = [[s.id, d] for s in org.services for d in s.dependencies
             if s.id in ids and d in ids]
    return {"nodes": nodes, "edges": edges}


def kill_switch_state(host: EngineHost) -> list[dict[str, Any]]:
    """Scopes whose kill switch is on, each with who turned it on, when and why."""
    with host.lock:
        on = sorted(k for k, v in host.engine.actor.killed.items() if v)
    if not on:
        return []
    records = host.store.decisions(limit=50, filters={"situation_kind": "kill_switch"})
    out = []
    for scope in on:
        last = next((r for r in records if r["domain"] == scope
                     and str(r["outcome"]).startswith("kill switch on")), None)
        out.append({"scope": "everything" if scope == "*" else scope, "domain": scope,
                    "by": last["decided_by"] if last else "unknown",
                    "at": last["time"] if last else None,
                    "comment": last.get("rationale", "") if last else "",
                    "record": last["id"] if last else None})
    return out


def run_figures(host: EngineHost) -> list[tuple[str, str]]:
    """What the engine has done since it started, for the report page before any report."""
    with host.lock:
        s = host.engine.stats
        open_now = len(host.engine.actor.open)
        incidents = host.engine.coordinator.closed + len(host.engine.coordinator.open)
        mttr = s.mttr_minutes if s.resolved else None
    verdicts = ", ".join(f"{n} {k}" for k, n in sorted(s.verdicts.items())) or "none yet"
    return [("events", f"{s.events:,}"), ("situations", f"{s.situations:,}"),
            ("decisions", f"{s.decisions:,}"), ("verdicts", verdicts),
            ("actions executed", f"{s.actions_executed:,} ({s.actions_failed} failed, "
                                 f"{s.compensations} compensated)"),
            ("escalations", f"{s.escalations:,} ({open_now} open, "
                            f"{s.escalations_expired} expired)"),
            ("incidents", f"{incidents:,}"),
            ("mean time to resolve", f"{mttr:.1f} min" if mttr is not None else "—"),
            ("SLA breaches", f"{s.sla_breaches:,}")]
