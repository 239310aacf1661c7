"""Measures over both models' outcomes: latency, breaches, capacity, consistency, slopes."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from baton.sim.params import SimParams
from baton.sim.summary import percentile


@dataclass
class Outcome:
    """What one model did about one situation, and what it cost."""

    case: str
    kind: str
    severity: int
    minute: float  # when the situation arose, simulation minutes
    latency: float | None  # minutes from situation to decision; None: undecided at the end
    action: str  # the action kind chosen, "none", "correlate" or "duplicate"
    escalated: bool  # someone above the first decider had to decide
    messages: float = 0.0
    person_minutes: float = 0.0
    signature: tuple[Any, ...] = ()
    expired: bool = False  # an escalation nobody answered in time: its fallback decided
    decided_by: str = ""  # the person (or agent) whose decision ended it


def latencies(outcomes: list[Outcome], horizon: float) -> list[float]:
    """Decision latencies in minutes; an undecided case counts until the end of the run."""
    return [o.latency if o.latency is not None else max(0.0, horizon - o.minute)
            for o in outcomes]


def latency_summary(values: list[float]) -> dict[str, float]:
    """Mean and percentiles in minutes."""
    if not values:
        return {"mean": 0.0, "p50": 0.0, "p90": 0.0, "p99": 0.0}
    return {"mean": round(sum(values) / len(values), 4),
            **{f"p{q}": round(percentile(values, q), 4) for q in (50, 90, 99)}}


def breach_rate(outcomes: list[Outcome], params: SimParams, horizon: float) -> float:
    """Share decided after their target, never, or by a fallback nobody answered before."""
    if not outcomes:
        return 0.0
    late = sum(1 for o, v in zip(outcomes, latencies(outcomes, horizon), strict=True)
               if o.latency is None or o.expired or v > params.sla(o.severity))
    return late / len(outcomes)


def capacity(curve: list[tuple[float, float]], threshold: float) -> dict[str, Any]:
    """The load at which the breach rate first passes `threshold` (log-interpolated)."""
    # `censored` says the crossing lies outside the loads tried ("below" or "above").
    pts = sorted(curve)
    if pts[0][1] > threshold:
        return {"load": pts[0][0], "censored": "below"}
    for (l0, b0), (l1, b1) in pairwise(pts):
        if b1 > threshold >= b0:
            frac = (threshold - b0) / (b1 - b0)
            return {"load": round(math.exp(math.log(l0) + frac * (math.log(l1) - math.log(l0))),
                                  4), "censored": None}
    return {"load": pts[-1][0], "censored": "above"}


def inconsistency(outcomes: list[Outcome]) -> dict[str, Any]:
    """Share of situations acting unlike the majority of their identical-attribute group."""
    # Groups of two or more count; duplicates (suppressed repeats) are left out.
    groups: dict[tuple[Any, ...], Counter[str]] = {}
    for o in outcomes:
        if o.action != "duplicate":
            groups.setdefault(o.signature, Counter())[o.action] += 1
    total = differ = 0
    for counts in groups.values():
        n = sum(counts.values())
        if n >= 2:
            total += n
            differ += n - max(counts.values())
    return {"rate": round(differ / total, 5) if total else 0.0, "situations": total,
            "groups": sum(1 for c in groups.values() if sum(c.values()) >= 2)}


def loglog_slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of log(y) against log(x); points with y <= 0 are left out."""
    usable = [(x, y) for x, y in points if x > 0 and y > 0]
    if len(usable) < 2:
        return 0.0
    xs = np.log([x for x, _ in usable])
    ys = np.log([y for _, y in usable])
    slope = float(np.polyfit(xs, ys, 1)[0])
    return round(slope, 4)


def cost_point(outcomes: list[Outcome], teams: int, cpu_ms: float) -> dict[str, Any]:
    """Coordination cost per situation at one organisation size."""
    n = max(1, len(outcomes))
    kinds: dict[str, float] = {}
    for o in outcomes:
        kinds[o.kind] = kinds.get(o.kind, 0.0) + o.messages
    ranked = sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    top = {k: round(v / n, 4) for k, v in ranked if v > 0}
    return {"teams": teams, "situations": len(outcomes), "messages_by_kind": top,
            "messages_per_event": round(sum(o.messages for o in outcomes) / n, 4),
            "person_minutes_per_event": round(sum(o.person_minutes for o in outcomes) / n, 4),
            "cpu_ms_per_event": round(cpu_ms / n, 4)}


def ratio(a: float, b: float) -> float:
    """a / b, or infinity when b is zero and a is not."""
    if b == 0:
        return math.inf if a > 0 else 1.0
    return a / b
