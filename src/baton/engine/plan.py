"""Joint plans: one coordinated response to an incident, across every affected domain.

A plan has steps (governed proposals) and the order between them: a step runs only after
every step it names in `after` has succeeded. When a step fails, the steps after it that
have not run are cancelled and the ones that already ran are compensated, newest first.
Pure data and graph logic; the Actor runs the steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import networkx as nx

from baton.model import Proposal, Situation, Verdict

_UNSET = object()
# What a step can be: waiting on an earlier step, or where it ended up.
DONE = frozenset({"executed", "shadowed"})
OPEN = frozenset({"planned", "waiting", "escalated", "running"})  # running: dispatched


@dataclass
class PlanStep:
    """One action of a plan, with the steps it waits for."""

    id: str
    agent: str
    proposal: Proposal
    after: list[str] = field(default_factory=list)  # step ids
    status: str = "planned"
    detail: str = ""
    verdict: Verdict | None = None
    context: dict[str, Any] = field(default_factory=dict)
    escalation: str | None = None
    situation: Situation | None = None  # what the step's proposal answers

    def __setattr__(self, name: str, value: Any) -> None:
        before = self.__dict__.get(name, _UNSET)
        object.__setattr__(self, name, value)
        if before is _UNSET or before != value:  # changed: shown in the plan's next record
            self.__dict__.pop("_view", None)  # and its view is made again when asked
            self.__dict__["_changed"] = True

    def __getstate__(self) -> dict[str, Any]:
        """What a snapshot keeps: everything but the view kept for the next record."""
        return {k: v for k, v in self.__dict__.items() if k != "_view"}

    def changed_since_record(self) -> bool:
        """True when the step differs from its view in its plan's last record (the marks
        are in snapshots, so a restart shows the same changes)."""
        d = self.__dict__
        return bool(d.get("_changed", True)) or d.get("_score_recorded") != self.proposal.score

    def view(self) -> dict[str, Any]:
        """The step as the ledger and the API show it, in JSON types only.

        Kept until the step changes: readers and the plan's records ask for it often, and
        most steps have not changed since the last time.
        """
        kept = self.__dict__.get("_view")
        if kept is None or kept["score"] != self.proposal.score:
            a, v = self.proposal.action, self.verdict
            kept = {"step": self.id, "agent": self.agent, "domain": self.proposal.domain,
                    "action": a.kind, "resource": a.resource, "after": list(self.after),
                    "verdict": v.kind.value if v else None,
                    "policies": list(v.policy_ids) if v else [],
                    "capped_by": v.capped_by if v else None, "score": self.proposal.score,
                    "status": self.status, "detail": self.detail,
                    "context": dict(self.context)}
            self.__dict__["_view"] = kept
        return dict(kept)


@dataclass
class JointPlan:
    """The response to one incident: root-cause action first, then what fans out of it."""

    id: str
    incident: str
    root: str
    created: datetime
    events: list[str]  # event keys merged into this plan
    affected: dict[str, Any]  # services, teams, domains, tier0, customer_facing
    steps: list[PlanStep] = field(default_factory=list)
    _index: dict[str, PlanStep] = field(default_factory=dict, repr=False)
    _order: list[PlanStep] | None = field(default=None, repr=False)

    def add(self, step: PlanStep) -> None:
        """Add a step; its `after` must name steps already added (so the plan stays a DAG)."""
        missing = [a for a in step.after if a not in self._index]
        if missing:
            raise ValueError(f"step {step.id} waits for unknown steps {missing}")
        self.steps.append(step)
        self._index[step.id] = step
        self._order = None

    def step(self, step_id: str) -> PlanStep:
        """The step with this id (KeyError when unknown)."""
        return self._index[step_id]

    def _graph(self) -> nx.DiGraph:
        g: nx.DiGraph = nx.DiGraph()
        for s in self.steps:
            g.add_node(s.id)
            for a in s.after:
                g.add_edge(a, s.id)
        return g

    def order(self) -> list[PlanStep]:
        """Steps in dependency order; ties keep the order they were added in."""
        if self._order is None:
            rank = {s.id: i for i, s in enumerate(self.steps)}
            ids = nx.lexicographical_topological_sort(self._graph(), key=lambda n: rank[n])
            self._order = [self.step(i) for i in ids]
        return list(self._order)

    def downstream(self, step_id: str) -> list[PlanStep]:
        """Every step that waits, directly or not, on `step_id`, in dependency order."""
        below = nx.descendants(self._graph(), step_id)
        return [s for s in self.order() if s.id in below]

    def ready(self, step: PlanStep) -> bool:
        """True when every step `step` waits for has succeeded."""
        return all(self.step(a).status in DONE for a in step.after)

    def blocked(self, step: PlanStep) -> PlanStep | None:
        """A step `step` waits for that can no longer succeed, if any."""
        for a in step.after:
            up = self.step(a)
            if up.status not in DONE and up.status not in OPEN:
                return up
        return None

    def summary(self) -> str:
        """Counts of steps by status, e.g. '3 executed, 1 escalated'."""
        counts: dict[str, int] = {}
        for s in self.steps:
            counts[s.status] = counts.get(s.status, 0) + 1
        return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))

    def view(self) -> dict[str, Any]:
        """The whole plan as it stands, in JSON types only (no side effect: for readers)."""
        return {"id": self.id, "incident": self.incident, "root": self.root,
                "events": list(self.events), "affected": dict(self.affected),
                "steps": [s.view() for s in self.order()], "whole": True}

    def record(self, *, whole: bool = False) -> dict[str, Any]:
        """What the plan's next ledger record holds: the whole plan (its first record), or
        only the steps that changed since the last record, with the counts by status.

        A plan's later records stay small however far the incident reaches: the affected
        teams and the unchanged steps are in its first record once (`fold_plan` puts the
        plan back together from its records).
        """
        shown = self.view() if whole else {
            "id": self.id, "incident": self.incident, "root": self.root, "whole": False,
            "summary": self.summary(),
            "steps": [s.view() for s in self.order() if s.changed_since_record()]}
        for s in self.steps:
            s.__dict__["_changed"], s.__dict__["_score_recorded"] = False, s.proposal.score
        return shown


def fold_plan(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One plan as of its last record, from its records oldest first (`plan` values).

    The whole plan is the latest record that shows it whole, with each step replaced by its
    view in every later record. None when no record shows the plan whole; a record from
    before records held only changes shows it whole too.
    """
    start = max((i for i, r in enumerate(records) if r.get("whole", True)), default=None)
    if start is None:
        return None
    plan = dict(records[start])
    at = {s["step"]: i for i, s in enumerate(plan["steps"])}
    steps = list(plan["steps"])
    for later in records[start + 1:]:
        for s in later.get("steps", []):
            if s["step"] in at:
                steps[at[s["step"]]] = s
            else:
                at[s["step"]] = len(steps)
                steps.append(s)
    plan["steps"], plan["whole"] = steps, True
    return plan
