"""Each outside agent's track record, read from its decision records."""

from __future__ import annotations

from typing import Any

from baton.agents.roster import PROPOSAL
from baton.org.model import Organisation
from baton.store.port import Store

#: the most recent proposals of one agent that the track record reads
RECENT = 500


def classify(store: Store, record: dict[str, Any]) -> str:
    """What became of one proposal: executed, pending, denied, conflicted or failed."""
    outcome = str(record.get("outcome", ""))
    if outcome.startswith("escalated"):
        esc = store.escalation("E" + str(record["id"])[1:])
        if esc is not None and esc.status == "approved":
            return "executed"
        if esc is not None and esc.status != "open":
            return "denied"
        return "conflicted" if "lost arbitration" in outcome else "pending"
    if outcome == "denied" or outcome.startswith(("shadowed", "observed")):
        return "denied"
    if "failed" in outcome or "unknown" in outcome:
        return "failed"
    if "executed" in outcome or "dispatched" in outcome:
        return "executed"
    return "failed"


def track_records(store: Store, org: Organisation, *,
                  recent: int = 10) -> list[dict[str, Any]]:
    """Per agent: who it is, how its proposals ended, and its latest decisions."""
    rows: list[dict[str, Any]] = []
    for spec in org.agents:
        records = store.decisions(limit=RECENT, filters={"decided_by": spec.id,
                                                         "situation_kind": PROPOSAL})
        counts = dict.fromkeys(("executed", "pending", "denied", "conflicted", "failed"), 0)
        latest: list[dict[str, Any]] = []
        for rec in records:
            status = classify(store, rec)
            counts[status] += 1
            if len(latest) < recent:
                action = rec.get("action") or {}
                first = (rec.get("proposals") or [{}])[0]
                latest.append({"id": rec["id"], "time": rec["time"], "status": status,
                               "kind": action.get("kind") or first.get("action", ""),
                               "resource": rec.get("entity", ""),
                               "outcome": rec.get("outcome", "")})
        ended = counts["executed"] + counts["failed"]
        rows.append({"id": spec.id, "name": spec.name or spec.id, "kind": spec.kind,
                     "owner": spec.owner, "domain": spec.domain, "actions": list(spec.actions),
                     "autonomy": spec.cap, "proposals": len(records), **counts,
                     "success_rate": round(counts["executed"] / ended, 3) if ended else None,
                     "latest": latest})
    return rows
