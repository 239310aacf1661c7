"""The policy gate: every action gets a verdict from Cedar, then autonomy caps it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import cedarpy
import orjson

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
    owner = {d.id: d.owner for d in org.domains}
    ents += [{"uid": {"type": "Agent", "id": a},
              "attrs": {"domain": d, "owner": owner.get(d, ""), "kind": "playbook"},
              "parents": []}
             for a, d in sorted(agents.items()) if a not in org.agent]
    ents += [{"uid": {"type": "Agent", "id": a.id},
              "attrs": {"domain": a.domain, "owner": a.owner, "kind": a.kind}, "parents": []}
             for a in org.agents]
    return cedarpy.Entities.from_json_str(json.dumps(ents))


_CACHE_LIMIT = 200_000
#: the most questions sent to Cedar in one call when answering ahead of a batch
PREFETCH_BATCH = 500


class Gate:
    """Judges actions against the policy book; never lets silence mean yes.

    Cedar answers each distinct question once: a question is the agent, action,
    resource and the context keys that the applicable policies read (see relevance.py);
    the resource's id is left out when no applicable policy looks at the resource.
    """

    def __init__(self, book: PolicyBook, entities: cedarpy.Entities) -> None:
        self.book = book
        self.entities = entities
        self._answers: dict[tuple[Any, ...], Verdict] = {}
        self._verdicts: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Verdict] = {}
        self.evaluated = 0  # requests sent to Cedar
        self.foreseen = 0  # of those, asked ahead of their events (see prefetch)

    def _key(self, r: GateRequest) -> tuple[Any, ...] | None:
        keys = self.book.relevance.keys_for(r.action)
        if keys is None:
            return None
        resource = r.resource if self.book.relevance.resource_matters(r.action) else None
        return (r.agent, r.action, r.resource_type, resource,
                tuple(r.context.get(k) for k in keys))

    def judge(self, requests: list[GateRequest]) -> list[Verdict]:
        """One verdict per request; the questions not answered before go in one batch,
        each distinct question once."""
        out: list[Verdict | None] = []
        ask: list[tuple[tuple[Any, ...] | None, GateRequest]] = []
        slots: list[int] = []  # per request, its question in `ask` (-1: answered before)
        asked: dict[tuple[Any, ...], int] = {}
        for r in requests:
            key = self._key(r)
            known = self._answers.get(key) if key is not None else None
            out.append(known)
            if known is not None:
                slots.append(-1)
                continue
            j = asked.get(key) if key is not None else None
            if j is None:
                j = len(ask)
                ask.append((key, r))
                if key is not None:
                    asked[key] = j
            slots.append(j)
        if ask:
            verdicts = self.evaluate([r for _, r in ask])
            for (key, _), verdict in zip(ask, verdicts, strict=True):
                if key is not None:
                    if len(self._answers) >= _CACHE_LIMIT:
                        self._answers.clear()
                    self._answers[key] = verdict
            for i, j in enumerate(slots):
                if j >= 0:
                    out[i] = verdicts[j]
        return [v for v in out if v is not None]

    def prefetch(self, requests: list[GateRequest], *, batch: int = PREFETCH_BATCH) -> int:
        """Answer ahead of time, in batches of up to `batch`, the cacheable questions not
        answered before; returns how many were asked.

        A verdict is a function of its question alone, so this never changes one: a later
        `judge` finds the answer ready when its question was foreseen, and asks Cedar
        itself when it was not (say, the budget moved in between).
        """
        ask: dict[tuple[Any, ...], GateRequest] = {}
        for r in requests:
            key = self._key(r)
            if key is not None and key not in self._answers and key not in ask:
                ask[key] = r
        if len(self._answers) + len(ask) >= _CACHE_LIMIT:
            self._answers.clear()
        keys, todo = list(ask), list(ask.values())
        for i in range(0, len(todo), batch):
            for key, verdict in zip(keys[i:i + batch],
                                    self.evaluate(todo[i:i + batch]), strict=True):
                self._answers[key] = verdict
        self.foreseen += len(todo)
        return len(todo)

    def evaluate(self, requests: list[GateRequest]) -> list[Verdict]:
        """Ask Cedar about every request, in one batch call."""
        if not requests:
            return []
        self.evaluated += len(requests)
        batch = [{"principal": {"type": "Agent", "id": r.agent},
                  "action": {"type": "Action", "id": r.action},
                  "resource": {"type": r.resource_type, "id": r.resource},
                  "context": orjson.dumps(self._read(r)).decode()} for r in requests]
        raw = cedarpy._internal.is_authorized_batch(batch, self.book.policy_set,
                                                    self.entities._inner, None, False)
        return [self._verdict(orjson.loads(text)) for text in raw]

    def _read(self, r: GateRequest) -> dict[str, Any]:
        """The part of the context that the policies which can apply to the action read
        (Cedar parses every key it is sent, read or not)."""
        keys = self.book.relevance.keys_for(r.action)
        if keys is None:
            return r.context
        return {k: r.context[k] for k in keys if k in r.context}

    def _verdict(self, result: dict[str, Any]) -> Verdict:
        diagnostics = result.get("diagnostics", {})
        reasons = tuple(sorted(diagnostics.get("reason", ())))
        errors = tuple(diagnostics.get("errors", ()))
        decision = str(result.get("decision"))
        key = (decision, reasons, errors)
        known = self._verdicts.get(key)
        if known is None:
            known = self._verdicts[key] = self._make_verdict(decision, reasons, errors)
        return known

    def _make_verdict(self, decision: str, reasons: tuple[str, ...],
                      errors: tuple[str, ...]) -> Verdict:
        if decision == "Deny" and reasons:
            why = "; ".join(self.book.info[p].reason or f"forbidden by {p}" for p in reasons)
            return Verdict(kind=VerdictKind.DENIED, policy_ids=reasons, reason=why)
        if decision == "Allow":
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
    elif level not in ("autonomous", "shadow"):  # shadow records what it would do
        lowered, why = f"autonomy:{level}", f"autonomy level is {level}"
    elif budget_left is not None and amount > 0 and amount > budget_left:
        lowered, why = "budget", f"amount {amount} exceeds the {budget_left} left today"
    if lowered is None:
        return verdict
    return Verdict(kind=VerdictKind.APPROVAL, policy_ids=verdict.policy_ids, approver="oncall",
                   reason=f"{verdict.reason}; {why}: escalated", capped_by=lowered)
