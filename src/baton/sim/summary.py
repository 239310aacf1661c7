"""The batch summary: what the engine did, with the ledger verified."""

from __future__ import annotations

from typing import Any

from baton.engine.pipeline import Engine
from baton.ledger.chain import verify


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(engine: Engine) -> dict[str, Any]:
    """The run's figures as plain JSON-ready data."""
    s = engine.stats
    check = verify(engine.store.ledger_rows())
    ms = engine.store.engine_ms()
    incidents = engine.coordinator.closed + len(engine.coordinator.open)
    return {
        "events": s.events,
        "control_events": s.control_events,
        "situations": s.situations,
        "suppressed_duplicates": s.suppressed,
        "correlated": s.correlated,
        "decisions": s.decisions,
        "verdicts": dict(s.verdicts),
        "actions_executed": s.actions_executed,
        "actions_failed": s.actions_failed,
        "compensations": s.compensations,
        "conflicts": s.conflicts,
        "escalations": s.escalations,
        "escalations_open": len(engine.actor.open),
        "escalations_expired": s.escalations_expired,
        "escalation_steps": s.escalation_steps,
        "fallbacks": s.fallbacks,
        "off_hours_pages": sum(s.off_hours_pages.values()),
        "incidents": incidents,
        "mttr_minutes": round(s.mttr_minutes, 2),
        "sla_breaches": s.sla_breaches,
        "spend": s.spend,
        "ledger_rows": check.rows,
        "ledger_head": check.head,
        "ledger_verified": check.ok,
        "decision_latency_ms": {"p50": round(percentile(ms, 50), 4),
                                "p99": round(percentile(ms, 99), 4)},
    }
