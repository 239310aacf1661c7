"""Decide: agents turn situations into proposals; the playbook agent is configured in YAML."""

from __future__ import annotations

import string
from typing import Any, Protocol

from baton.config import AgentSpec, Candidate
from baton.model import Action, Event, Proposal, Situation


class Agent(Protocol):
    """Owns one domain and proposes what to do about its situations.

    An agent that also defines `see(picture)` is handed the engine's shared operational
    picture (baton.engine.picture.Picture) once, and reads current state from it.
    """

    id: str
    domain: str

    def handles(self, kind: str) -> bool:
        """True when this agent proposes for situations of `kind`."""
        ...

    def propose(self, situation: Situation) -> list[Proposal]:
        """Candidate proposals for a situation, best first in the agent's own view."""
        ...


class Observer(Protocol):
    """An agent that also learns from the event stream (e.g. from closed cases).

    `observe` sees every non-control event, in log order and in engine time, before
    the monitor does; it must not look ahead and must be deterministic.
    """

    def observe(self, event: Event) -> None:
        """Take note of one event."""
        ...


_FIELDS = ("entity", "kind", "domain", "severity")


class Template:
    """A rationale or parameter template, parsed once: {entity}, {kind}, {domain},
    {severity} and {facts[name]}; an unknown fact renders as <name?>."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.parts: list[tuple[str, str | None, str | None]] = []  # literal, field, fact
        for literal, name, spec, conv in string.Formatter().parse(text):
            if name is None:
                self.parts.append((literal, None, None))
                continue
            if spec or conv:
                raise ValueError(f"template {text!r}: format specs and conversions are not "
                                 "supported")
            if name in _FIELDS:
                self.parts.append((literal, name, None))
            elif name.startswith("facts[") and name.endswith("]"):
                self.parts.append((literal, None, name[6:-1]))
            else:
                raise ValueError(f"template {text!r} uses {{{name}}}; known: "
                                 "{entity}, {kind}, {domain}, {severity}, {facts[name]}")

    def render(self, situation: Situation) -> str:
        """Fill the template from a situation."""
        out: list[str] = []
        facts = situation.facts
        for literal, field, fact in self.parts:
            out.append(literal)
            if field is not None:
                out.append(str(getattr(situation, field)))
            elif fact is not None:
                out.append(str(facts[fact]) if fact in facts else f"<{fact}?>")
        return "".join(out)


class PlaybookAgent:
    """An agent whose proposals come from a playbook: situation kind -> candidate actions."""

    def __init__(self, spec: AgentSpec) -> None:
        self.id = spec.id
        self.domain = spec.domain
        self.playbooks = spec.playbooks
        self._templates: dict[str, Template] = {}
        for candidates in spec.playbooks.values():
            for cand in candidates:
                for text in (cand.resource, cand.effect, cand.rationale,
                             *(v for v in cand.params.values() if isinstance(v, str))):
                    self._templates.setdefault(text, Template(text))

    def _render(self, text: str, situation: Situation) -> str:
        return self._templates[text].render(situation)

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
            kind=cand.action, resource=self._render(cand.resource, situation),
            resource_type=cand.resource_type,
            params={k: self._render(v, situation) if isinstance(v, str) else v
                    for k, v in cand.params.items()},
            amount=cand.amount, compensation=cand.compensation)
        evidence: dict[str, Any] = {"events": list(situation.event_ids),
                                    "facts": dict(situation.facts)}
        return Proposal.model_construct(
            id=f"{situation.id}/{i}", agent=self.id, domain=self.domain,
            situation=situation.id, action=action,
            expected_effect=self._render(cand.effect, situation), cost=cand.cost, risk=cand.risk,
            minutes=cand.minutes, customer_impact=cand.customer_impact,
            confidence=cand.confidence, rationale=self._render(cand.rationale, situation),
            evidence=evidence, score=0.0, after=list(cand.after))
