"""Decide: agents turn situations into proposals; the playbook agent is configured in YAML."""

from __future__ import annotations

import string
from typing import Any, Protocol

from baton.config import AgentSpec, Candidate
from baton.model import Action, Proposal, Situation


class Agent(Protocol):
    """Owns one domain and proposes what to do about its situations."""

    id: str
    domain: str

    def handles(self, kind: str) -> bool:
        """True when this agent proposes for situations of `kind`."""
        ...

    def propose(self, situation: Situation) -> list[Proposal]:
        """Candidate proposals for a situation, best first in the agent's own view."""
        ...


class _Facts(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return f"<{key}?>"


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return f"<{key}?>"


def render(template: str, situation: Situation) -> str:
    """Fill {entity}, {kind}, {domain}, {severity} and {facts[name]} from a situation."""
    fields = _Fields(entity=situation.entity, kind=situation.kind, domain=situation.domain,
                     severity=situation.severity, facts=_Facts(situation.facts))
    return string.Formatter().vformat(template, (), fields)


def template_fields(template: str) -> list[str]:
    """The field names a template uses (for checking playbooks at load time)."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


class PlaybookAgent:
    """An agent whose proposals come from a playbook: situation kind -> candidate actions."""

    def __init__(self, spec: AgentSpec) -> None:
        self.id = spec.id
        self.domain = spec.domain
        self.playbooks = spec.playbooks

    def handles(self, kind: str) -> bool:
        """True when the playbook has an entry for `kind`."""
        return kind in self.playbooks

    def propose(self, situation: Situation) -> list[Proposal]:
        """One proposal per candidate whose required facts hold."""
        out: list[Proposal] = []
        for i, cand in enumerate(self.playbooks.get(situation.kind, [])):
            if all(situation.facts.get(name) for name in cand.requires):
                out.append(self._proposal(i, cand, situation))
        return out

    def _proposal(self, i: int, cand: Candidate, situation: Situation) -> Proposal:
        action = Action.model_construct(
            kind=cand.action, resource=render(cand.resource, situation),
            resource_type=cand.resource_type,
            params={k: render(v, situation) if isinstance(v, str) else v
                    for k, v in cand.params.items()},
            amount=cand.amount, compensation=cand.compensation)
        evidence: dict[str, Any] = {"events": list(situation.event_ids),
                                    "facts": dict(situation.facts)}
        return Proposal.model_construct(
            id=f"{situation.id}/{i}", agent=self.id, domain=self.domain,
            situation=situation.id, action=action,
            expected_effect=render(cand.effect, situation), cost=cand.cost, risk=cand.risk,
            minutes=cand.minutes, customer_impact=cand.customer_impact,
            confidence=cand.confidence, rationale=render(cand.rationale, situation),
            evidence=evidence)
