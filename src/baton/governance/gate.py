"""The policy gate: every action gets a verdict from Cedar, then autonomy caps it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import cedarpy

from baton.governance.policies import PolicyBook
from baton.model import Verdict, VerdictKind
from baton.org.model import Organisation


@dataclass(frozen=True)
class GateRequest:
    """One action to judge: who proposes it, what, on what, in which context."""

    agent: str
    domain: str
    action: str
    resource: str
    resource_type: str
    context: dict[str, Any]


def entities_for(org: Organisation, agents: dict[str, str]) -> cedarpy.Entities:
    """The Cedar entity set: services with their attributes, and the agents."""
    team_domain = {t.id: t.domain for t in org.teams}
    ents: list[dict[str, Any]] = [
        {"uid": {"type": "Service", "id": s.id},
         "attrs": {"tier": s.tier, "team": s.team, "domain": team_domain[s.team],
                   "customer_facing": s.customer_facing},
         "parents": []}
        for s in org.services
    ]
    ents += [{"uid": {"type": "Agent", "id": a}, "attrs": {"domain": d}, "parents": []}
             for a, d in sorted(agents.items())]
    return cedarpy.Entities.from_json_str(json.dumps(ents))


class Gate:
    """Judges actions against the policy book; never lets silence mean yes."""

    def __init__(self, book: PolicyBook, entities: cedarpy.Entities) -> None:
        self.book = book
        self.entities = entities

    def judge(self, requests: list[GateRequest]) -> list[Verdict]:
        """One verdict per request, from one batch evaluation."""
        if not requests:
            return []
        batch = [{"principal": {"type": "Agent", "id": r.agent},
                  "action": {"type": "Action", "id": r.action},
                  "resource": {"type": r.resource_type, "id": r.resource},
                  "context": r.context} for r in requests]
        results = cedarpy.is_authorized_batch(batch, self.book.policy_set, self.entities)
        return [self._verdict(res) for res in results]

    def _verdict(self, result: cedarpy.AuthzResult) -> Verdict:
        reasons = tuple(sorted(result.diagnostics.reasons))
        errors = result.diagnostics.errors
        if result.decision == cedarpy.Decision.Deny and reasons:
            why = "; ".join(self.book.info[p].reason or f"forbidden by {p}" for p in reasons)
            return Verdict(kind=VerdictKind.DENIED, policy_ids=reasons, reason=why)
        if result.decision == cedarpy.Decision.Allow:
            autos = tuple(p for p in reasons if self.book.info[p].verdict == "autonomous")
            if autos:
                return Verdict(kind=VerdictKind.AUTONOMOUS, policy_ids=autos,
                               reason=f"permitted by {', '.join(autos)}")
            approver = self.book.info[reasons[0]].approver or "oncall"
            return Verdict(kind=VerdictKind.APPROVAL, policy_ids=reasons, approver=approver,
                           reason=f"{', '.join(reasons)} require approval by {approver}")
        note = f" (policy errors: {'; '.join(errors)})" if errors else ""
        return Verdict(kind=VerdictKind.APPROVAL, approver="oncall", capped_by="no-policy",
                       reason="no policy permits this action: escalated, never executed" + note)


def cap(verdict: Verdict, *, level: str, killed: str | None, amount: int,
        budget_left: int | None) -> Verdict:
    """Lower an autonomous verdict for the kill switch, the autonomy level or the budget."""
    if verdict.kind is not VerdictKind.AUTONOMOUS:
        return verdict
    lowered: str | None = None
    why = ""
    if killed is not None:
        lowered, why = f"kill-switch:{killed}", f"kill switch is on ({killed})"
    elif level != "autonomous":
        lowered, why = f"autonomy:{level}", f"autonomy level is {level}"
    elif budget_left is not None and amount > budget_left:
        lowered, why = "budget", f"amount {amount} exceeds the {budget_left} left today"
    if lowered is None:
        return verdict
    return Verdict(kind=VerdictKind.APPROVAL, policy_ids=verdict.policy_ids, approver="oncall",
                   reason=f"{verdict.reason}; {why}: escalated", capped_by=lowered)
