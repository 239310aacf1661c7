"""The routing agent: proposes a group for each case when it opens, learning only from
cases that closed before that moment."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any, Protocol

from baton.model import Action, Event, Proposal, Situation


class Router(Protocol):
    """What the agent needs of a routing model."""

    def learn(self, attrs: dict[str, str], group: str, at: datetime) -> None:
        """Take a closed case: its open-time attributes and the group that resolved it."""
        ...

    def predict(self, case: str, attrs: dict[str, str], at: datetime) -> tuple[str, float]:
        """The group for a case opening at `at`, and the calibrated chance it is right."""
        ...


class FrequencyRouter:
    """A transparent baseline: per attribute value, the groups that resolved earlier cases.

    Each known attribute value votes with its smoothed group distribution, weighted by how
    concentrated it is; confidence is the winning share, not calibrated. Used when no
    learned model is given, and in tests.
    """

    def __init__(self) -> None:
        self.by_value: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self.overall: Counter[str] = Counter()

    def learn(self, attrs: dict[str, str], group: str, at: datetime) -> None:
        """Count the closed case under each of its attribute values."""
        self.overall[group] += 1
        for key, value in attrs.items():
            self.by_value[(key, value)][group] += 1

    def predict(self, case: str, attrs: dict[str, str], at: datetime) -> tuple[str, float]:
        """The group with the most weighted votes, and its share of them."""
        if not self.overall:
            return "", 0.0
        votes: dict[str, float] = defaultdict(float)
        for key, value in sorted(attrs.items()):
            seen = self.by_value.get((key, value))
            if not seen:
                continue
            total = sum(seen.values())
            top = seen.most_common(1)[0][1] / total
            for group, n in seen.items():
                votes[group] += top * n / (total + 1)
        if not votes:
            group, n = self.overall.most_common(1)[0]
            return group, n / sum(self.overall.values())
        (group, best), = sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))[:1]
        return group, round(best / sum(votes.values()), 6)


class RollingRouterDecisions:
    """The learned router's decisions, made by `baton.learn.routing.RollingRouter` in a
    rolling replay of the same log in virtual time: each case's decision comes from a
    model trained only on cases closed before the case opened (checked here)."""

    def __init__(self, decisions: dict[str, tuple[str, float, datetime | None]], *,
                 model_groups: dict[str, str] | None = None,
                 moves: dict[str, int] | None = None) -> None:
        self.decisions = decisions
        self.model_groups = model_groups or {}  # the model's own choice, before stable routes
        self.moves = moves or {}  # how often stable routes kept or moved a route, and why

    def learn(self, attrs: dict[str, str], group: str, at: datetime) -> None:
        """Nothing to do: the rolling replay learned as of each decision."""

    def predict(self, case: str, attrs: dict[str, str], at: datetime) -> tuple[str, float]:
        """The rolling router's decision for this case (no group before the first fit)."""
        group, confidence, trained_until = self.decisions.get(case, ("", 0.0, None))
        if trained_until is not None and trained_until > at:
            raise RuntimeError(f"{case}: its model was trained until {trained_until}, after "
                               f"the case opened at {at}")
        return group, confidence


class RoutingAgent:
    """Owns the routing of cases in one domain; observes the log to learn."""

    def __init__(self, router: Router, *, domain: str = "support",
                 agent_id: str = "routing-agent") -> None:
        self.id = agent_id
        self.domain = domain
        self.router = router
        self.open_attrs: dict[str, dict[str, str]] = {}
        self.predictions: dict[str, tuple[str, float]] = {}

    def handles(self, kind: str) -> bool:
        """Only cases opening."""
        return kind == "case_opened"

    def observe(self, event: Event) -> None:
        """Remember what is known at open; learn from each case as it closes."""
        if event.type == "case.opened":
            self.open_attrs[event.entity] = {k: str(v) for k, v in event.attrs.items()}
        elif event.type == "case.resolved":
            attrs = self.open_attrs.pop(event.entity, None)
            if attrs is not None:
                self.router.learn(attrs, str(event.attrs["group"]), event.time)

    def propose(self, situation: Situation) -> list[Proposal]:
        """Route the case to the predicted group, with the model's confidence."""
        attrs = self.open_attrs.get(situation.entity, {})
        group, confidence = self.router.predict(situation.entity, attrs, situation.time)
        if not group:
            return []
        self.predictions[situation.entity] = (group, confidence)
        evidence: dict[str, Any] = {"events": list(situation.event_ids), "attrs": attrs}
        return [Proposal.model_construct(
            id=f"{situation.id}/route", agent=self.id, domain=self.domain,
            situation=situation.id,
            action=Action.model_construct(kind="route_case", resource=situation.entity,
                                          resource_type="Case", params={"group": group},
                                          amount=0, compensation=None),
            expected_effect=f"{situation.entity} goes straight to {group}", cost=0.0, risk=10,
            minutes=0.0, customer_impact=50, confidence=min(1.0, max(0.0, confidence)),
            rationale=f"cases like this were resolved by {group} "
                      f"({confidence:.0%} of the time, learned from closed cases only)",
            evidence=evidence, score=0.0)]
