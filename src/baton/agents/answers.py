"""What an agent is told about its proposal: executed, pending, denied, conflicted or
failed, read from the decision records the engine wrote (never from a second path)."""

from __future__ import annotations

import re
from typing import Any

from baton.agents.roster import event_key, situation_id
from baton.errors import NotFoundError
from baton.ledger.writer import derived_id
from baton.model import Escalation
from baton.store.port import Store

STATUSES = ("executed", "pending", "denied", "conflicted", "failed")
_WINNER = re.compile(r"\bby (D-[0-9a-f]{16})\b")


def decision_id(agent: str, proposal: str) -> str:
    """The id of the decision about an agent's proposal (derived from its cause)."""
    return derived_id("D", f"{event_key(agent, proposal)}\x00{situation_id(agent, proposal)}",
                      0)


def _escalation(esc: Escalation) -> dict[str, Any]:
    return {"id": esc.id, "status": esc.status, "deadline": esc.deadline.isoformat(),
            "approver": esc.approver, "candidates": list(esc.candidates),
            "resolved_by": esc.resolved_by}


def _human(store: Store, esc: Escalation) -> dict[str, Any] | None:
    """The person's decision that approved `esc`."""
    if esc.resolved_by is None:
        return None
    for rec in store.decisions(limit=500, filters={"situation_kind": "escalation",
                                                   "decided_by": esc.resolved_by}):
        if rec.get("chosen") == esc.decision and str(rec["outcome"]).startswith("approved"):
            return rec
    return None


def _ran(outcome: str) -> tuple[str, str]:
    """(status, result) of a dispatched action from its decision's outcome now."""
    if "failed" in outcome or "unknown" in outcome:
        return "failed", outcome
    if "executed" in outcome:
        return "executed", "executed"
    return "executed", "dispatched: the result is not known yet"


def answer(store: Store, agent: str, proposal: str) -> dict[str, Any]:
    """The answer about one proposal of `agent`; NotFoundError when it never made it."""
    did = decision_id(agent, proposal)
    base: dict[str, Any] = {"proposal": proposal, "agent": agent, "decision": did,
                            "escalation": None, "reason": "", "policies": [], "winner": None,
                            "result": None}
    rec = store.decision(did)
    if rec is None:
        if store.unprocessed([event_key(agent, proposal)]):
            return {**base, "status": "pending", "decision": None,
                    "reason": "accepted; not decided yet"}
        raise NotFoundError(f"{agent} has no proposal {proposal!r}")
    outcome = str(rec.get("outcome", ""))
    verdict = rec.get("verdict") or {}
    base.update(outcome=outcome, reason=str(verdict.get("reason", "")),
                policies=list(verdict.get("policy_ids", [])), action=rec.get("action"))
    if outcome.startswith("escalated"):
        esc = store.escalation("E" + did[1:])
        if esc is not None:
            base["escalation"] = _escalation(esc)
        if "lost arbitration" in outcome:
            base.update(status="conflicted", reason=str(rec.get("rationale", "")))
            found = _WINNER.search(str(rec.get("rationale", "")))
            won = store.decision(found.group(1)) if found else None
            if won is not None:
                base["winner"] = {"decision": won["id"], "agent": won.get("decided_by"),
                                  "proposal": won.get("chosen"), "action": won.get("action")}
        else:
            base["status"] = "pending"
        if esc is None or esc.status == "open":
            return base
        if esc.status == "approved":
            human = _human(store, esc)
            status, result = _ran(str(human["outcome"]) if human else "dispatched")
            base.update(status=status, result=result,
                        reason=f"approved by {esc.resolved_by}"
                               + (f": {esc.comment}" if esc.comment else ""))
            return base
        base.update(status="denied", reason=f"{esc.status}"
                    + (f" by {esc.resolved_by}" if esc.resolved_by else "")
                    + (f": {esc.comment or esc.resolution}" if esc.comment or esc.resolution
                       else ""))
        return base
    if outcome == "denied":
        return {**base, "status": "denied"}
    if outcome.startswith(("shadowed", "observed")):
        return {**base, "status": "denied",
                "reason": f"autonomy level {rec.get('mode')}: recorded, never executed"}
    if "dispatched" in outcome or "executed" in outcome or "failed" in outcome:
        status, result = _ran(outcome)
        return {**base, "status": status, "result": result}
    return {**base, "status": "failed", "reason": str(rec.get("rationale", "")) or outcome}
