"""What a log shows without routing: time to resolve, reassignments and waiting."""

from __future__ import annotations

from statistics import median
from typing import Any

from baton.learn.cases import Case


def _hours(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None}
    return {"mean": round(sum(values) / len(values), 3), "median": round(median(values), 3)}


def flow(cases: list[Case], *, waiting_states: list[str],
         reassignments_known: bool = True) -> dict[str, Any]:
    """Per-case flow figures over every case that is over, as people handled them.

    `reassignments_known` False: the log has neither a group nor a reassignment count.
    """
    resolve = [((c.resolved_at or c.closed_at) - c.opened_at).total_seconds() / 3600
               for c in cases]
    reassigned = [c.reassignments for c in cases]
    out: dict[str, Any] = {
        "cases": len(cases),
        "time_to_resolve_hours": _hours([max(0.0, h) for h in resolve]),
        "reassignments": {"mean": round(sum(reassigned) / len(cases), 3) if cases else None,
                          "share_reassigned": round(sum(r > 0 for r in reassigned)
                                                    / len(cases), 4) if cases else None,
                          "max": max(reassigned, default=0)},
    }
    if not reassignments_known:
        out["reassignments"] = {"not measured": "the mapping has neither a group nor a "
                                                "reassignment_count column"}
    if waiting_states:
        waits = [c.waiting_hours for c in cases]
        out["waiting_hours"] = _hours(waits) | {
            "share_waited": round(sum(w > 0 for w in waits) / len(cases), 4) if cases else None,
            "states": list(waiting_states)}
    else:
        out["waiting_hours"] = {"not measured": "the mapping lists no waiting_states"}
    return out
