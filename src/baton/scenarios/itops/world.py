"""ItopsWorld: the seeded simulated IT organisation behind the bundled `itops` scenario.

Over a day (the demo starts 2026-03-02T00:00Z) the world produces, for 160 services:
latency samples every 15 minutes following each region's day, hourly cost samples and
storage levels, several deploys an hour (about 15% bad: error-rate alerts until rolled
back), crashes (down services alert every 5 minutes until restarted; a daily foundation
failure cascades to every dependent), CPU saturation at load peaks, cost runaways,
customer tickets (P1-P3) that resolve on their own in due time, access grants (about 10%
out of policy), a credential leak and expiring certificates. Actions sent with `apply`
change what happens next; `answer` plays the people who answer escalations.
Same organisation, seed and calls: the same events, key for key.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from baton.execution.port import ActionRequest, ExecResult
from baton.model import Escalation, Event
from baton.org.model import Organisation
from baton.scenarios.itops._actions import Actions
from baton.scenarios.itops._workload import Workload

APPROVE_SHARE = 0.9
WORKING_MINUTES = (10.0, 30.0)  # a page taken at work: acknowledge, read, decide
AT_HOME_MINUTES = (25.0, 75.0)  # paged at home
APPROVALS = ("ok, go ahead", "approved: I'm watching the dashboards",
             "fine by me, ping me if it gets worse")
REJECTIONS = ("not now: I'm looking at it myself", "too risky at peak; hold off",
              "rejected: let's talk in the incident channel first")


@dataclass(frozen=True)
class _Answer:
    when: datetime
    by: str
    approve: bool
    comment: str


class ItopsWorld(Workload, Actions):
    """The simulated organisation: emits events, takes actions, answers escalations."""

    def __init__(self, org: Organisation, *, seed: int, start: datetime,
                 slowdown: float = 1.0) -> None:
        """Build the world at `start`; slowdown > 1 stretches how long tickets take."""
        if slowdown <= 0:
            raise ValueError(f"slowdown must be > 0, got {slowdown}")
        super().__init__(org, seed=seed, start=start, slowdown=slowdown)
        self._until = start
        self._plans: dict[str, _Answer] = {}
        self._answered: set[str] = set()
        self._free_since: dict[str, datetime] = {}  # released after a pause, at

    def events_until(self, t: datetime) -> list[Event]:
        """Every event with time in (the previous call's t, t], by time then key."""
        if t.tzinfo is None:
            raise ValueError("t must carry a time zone")
        if t <= self._until:
            return []
        self.advance(t)
        self._until = t
        return self.take(t)

    def apply(self, request: ActionRequest) -> ExecResult:
        """Carry out one action at request.at; its effects show in later events."""
        return self.act(request)

    def inject_failure(self, service: str, at: datetime, cause: str = "injected fault") -> None:
        """Crash `service` at `at` (or just after what has already happened)."""
        if service not in self.svc:
            raise KeyError(f"no service {service!r}")
        when = max(at, self.processed + timedelta(seconds=1)).replace(microsecond=0)
        self.at(when, "crash", f"{service}|{cause}")

    def status(self, service: str) -> str:
        """'down', 'degraded' or 'ok': how the service is doing now."""
        svc = self.svc[service]
        return "down" if svc.down else "ok" if svc.healthy else "degraded"

    # --- the people who answer escalations ----------------------------------------------

    def answer(self, escalations: list[Escalation], now: datetime, *,
               paused: frozenset[str] = frozenset(),
               absent: frozenset[str] = frozenset()) -> list[Event]:
        """Approve (about 90%) or reject open escalations once their person has answered.

        A paused escalation (a real person has it open, or the kill switch is on) is left
        alone; its person starts thinking again, from `now`, once it is released. People
        in `absent` (the demo's real people) are never played.
        """
        out: list[Event] = []
        for esc in escalations:
            if esc.status != "open" or esc.id in self._answered:
                continue
            if esc.id in paused:
                self._plans.pop(esc.id, None)
                self._free_since[esc.id] = now
                continue
            plan = self._plans.get(esc.id)
            if plan is None:
                plan = self._plan(esc, self._free_since.get(esc.id, esc.created), absent)
                if plan is None:
                    continue
                self._plans[esc.id] = plan
            if plan.when > now:
                continue
            self._answered.add(esc.id)
            out.append(Event(
                key=f"answer:{esc.id}", type="baton.approve" if plan.approve else "baton.reject",
                entity=esc.id, time=plan.when, source="itops-approvers",
                attrs={"escalation": esc.id, "by": plan.by, "comment": plan.comment}))
        return sorted(out, key=lambda e: (e.time, e.key))

    def _plan(self, esc: Escalation, since: datetime,
              absent: frozenset[str]) -> _Answer | None:
        # A person at work acknowledges the page, reads the evidence and decides: 10 to 30
        # minutes; one paged at home takes 25 to 75. Nobody left to play: no answer yet
        # (a later step of the chain pages someone else).
        rng = random.Random(f"{self.seed}:answer:{esc.id}")
        paged_at = esc.history[-1].get("paged_at") if esc.history else None
        if isinstance(paged_at, str):  # the current step's people were paged then
            since = max(since, datetime.fromisoformat(paged_at))
        pool = [c for c in esc.candidates if c in self.org.person] or self._eligible(esc)
        pool = [p for p in pool if p not in absent]
        if not pool:
            return None
        working = [p for p in pool if self.org.person[p].working(since)]
        by = (working or pool)[0]
        minutes = rng.uniform(*WORKING_MINUTES) if working else rng.uniform(*AT_HOME_MINUTES)
        approve = rng.random() < APPROVE_SHARE
        comment = rng.choice(APPROVALS if approve else REJECTIONS)
        when = (since + timedelta(minutes=minutes)).replace(microsecond=0)
        return _Answer(when=when, by=by, approve=approve, comment=comment)

    def _eligible(self, esc: Escalation) -> list[str]:
        """Who may answer when the escalation names nobody: by approver kind and resource."""
        org, resource = self.org, str(esc.action.get("resource", ""))
        team = (self.svc[resource].team if resource in self.svc
                else self.tickets[resource].team if resource in self.tickets else None)
        owner = [org.domain[esc.domain].owner] if esc.domain in org.domain else []
        if esc.approver == "oncall" and team is not None:
            return [org.oncall(team, esc.created)]
        if esc.approver == "team_lead" and team is not None:
            return [org.team[team].lead]
        by_role = [p.id for p in org.people if p.role == esc.approver]
        if esc.approver != "domain_owner" and by_role:
            return by_role
        return owner or [org.people[0].id]
