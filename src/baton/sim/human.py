"""The human-led model: on-call, reporting lines, meetings, hours; the engine's policies."""

from __future__ import annotations

import random
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from baton.config import Config
from baton.sim.measure import Outcome
from baton.sim.orgscale import chain_up
from baton.sim.params import SimParams
from baton.sim.people import People
from baton.sim.policy import Judge, Option
from baton.sim.workload import INCIDENTS, Case, Workload


@dataclass
class Tally:
    """Messages and person-minutes of coordination spent on one situation."""

    messages: float
    minutes: float


ROUTING = frozenset({"none", "correlate", "assign_ticket", "open_ticket", "notify_team"})
Proc = Generator[simpy.Event, Any, Any]


def exp(rng: random.Random, mean: float) -> float:
    """An exponential draw with this mean (0 for a mean of 0)."""
    return rng.expovariate(1.0 / mean) if mean > 0 else 0.0


class HumanModel:
    """Each situation goes to the responsible person and climbs the line when it must."""

    def __init__(self, config: Config, params: SimParams, workload: Workload, *, seed: int,
                 drain_days: float, judge: Judge | None = None) -> None:
        self.config, self.params, self.work, self.seed = config, params, workload, seed
        self.org = config.org
        self.env = simpy.Environment()
        self.people = People(self.env, self.org, params, workload.origin)
        self.judge = judge or Judge(config)
        self.urgent = config.settings.escalation.urgent_severity
        self.outcomes: dict[str, Outcome] = {}
        self._triaged: dict[str, simpy.Event] = {}
        self._staff: dict[str, list[str]] = {}
        self.reports: dict[str, int] = {}
        for person in self.org.people:
            if person.reports_to:
                self.reports[person.reports_to] = self.reports.get(person.reports_to, 0) + 1
        self.horizon = (workload.days + drain_days) * 1440.0

    def run(self) -> list[Outcome]:
        """Simulate every case to the end of the horizon; undecided ones have no latency."""
        for case in self.work.cases:
            self.env.process(self._case(case))
        self.env.run(until=self.horizon)
        out = []
        for c in self.work.cases:
            found = self.outcomes.get(c.id)
            out.append(found if found is not None else Outcome(
                c.id, c.situation.kind, c.situation.severity, c.minute, None, "none", False,
                signature=c.signature))
        return out

    def _responder(self, team: str, urgent: bool) -> str:
        """The on-call when urgent, else the least busy member at work (or first back)."""
        if urgent:
            return self.org.oncall(team, self.people.at(self.env.now))
        staff = self._staff.get(team)
        if staff is None:
            staff = self._staff[team] = [
                p.id for p in self.org.people
                if p.team == team and p.role not in ("manager", "director")] or [
                self.org.team[team].lead]
        now, people = self.env.now, self.people
        working = [pid for pid in staff if people.schedule(pid).working(now)]
        if working:
            return min(working, key=lambda pid: people.desk(pid).count + len(
                people.desk(pid).queue))
        return min(staff, key=lambda pid: people.schedule(pid).next_start(now))

    def _root_event(self, root: str) -> simpy.Event:
        """The event a cascade root's diagnosis triggers; its dependents wait for it."""
        found = self._triaged.get(root)
        if found is None:
            found = self._triaged[root] = self.env.event()
        return found

    def _pick(self, best: str, pool: list[str], rng: random.Random) -> str:
        """The policy-best action, or with the decision variability another one."""
        others = sorted(set(pool) - {best})
        if others and rng.random() < self.params.p("decision_variability"):
            return rng.choice(others)
        return best

    def _case(self, c: Case) -> Proc:
        """One situation from its page to its decision, counting what it costs."""
        p, people, s = self.params, self.people, c.situation
        rng = random.Random(f"{self.seed}:human:{c.id}")
        yield self.env.timeout(max(0.0, c.minute))
        sev = s.severity
        urgent = sev <= self.urgent
        responder = self._responder(c.responder_team, urgent)
        incident = s.kind in INCIDENTS and c.root is None
        responders = p.p("responders_per_incident") if incident else 1.0
        messages, minutes = responders, 0.0
        yield from people.reach(responder, urgent, rng)
        triage = exp(rng, p.p("triage_minutes"))
        yield from people.work(responder, triage, urgent, sev)
        minutes += triage * responders
        if incident and not self._root_event(c.id).triggered:
            self._root_event(c.id).succeed()
        options = self.judge.options(s, people.at(self.env.now))
        best = "correlate" if c.root is not None else Judge.best(options).action
        pool = [o.action for o in options] + ["none"]
        action = self._pick(best, pool, rng)
        tally = Tally(messages, minutes)
        decided = yield from self._cross_team(c, action, urgent, sev, rng, tally)
        chosen = next((o for o in options if o.action == action), None)
        path = [] if decided else self._authority(c, responder, chosen, best, options)
        decider = decided or responder
        for manager in path:
            decider = manager
            yield self.env.timeout(exp(rng, p.p("handoff_minutes")))
            tally.messages += 2
            tally.minutes += p.p("handoff_minutes")
            yield from people.reach(manager, urgent, rng)
            tally.minutes += yield from people.decide(manager, urgent, sev, rng)
            action = self._pick(action, pool, rng)
        if decided:
            action = self._pick(action, pool, rng)  # the sync's chair decides
        self.outcomes[c.id] = Outcome(
            c.id, s.kind, sev, c.minute, self.env.now - c.minute, action,
            bool(path) or bool(decided), tally.messages, tally.minutes, c.signature,
            decided_by=decider)
        final = next((o for o in options if o.action == action), None)
        if final is not None:
            self.judge.spend(final, people.at(self.env.now))
        rest = p.p("incident_minutes") - triage
        if incident and action not in ROUTING and rest > 0:
            self.env.process(people.work(responder, rest, urgent, sev))

    def _cross_team(self, c: Case, action: str, urgent: bool, sev: int,
                    rng: random.Random, tally: Tally) -> Proc:
        """Coordinate with the other teams involved; returns who decided, if a sync did."""
        # A cascade dependent waits for the root team's diagnosis on the incident bridge.
        # A matter whose resource another team owns goes, when urgent, to a bridge with
        # that team; otherwise it climbs to the lowest common manager of both teams and
        # down to the other team, and is decided at that manager's next sync with their
        # reports. A matter of the responder's own with other teams affected costs a
        # bridge's talk (every pair of teams, Brooks) but waits for nobody.
        p, k = self.params, len(c.teams)
        handoff, item = p.p("handoff_minutes"), p.p("meeting_item_minutes")
        if c.root is not None and c.root != c.id:
            yield self._root_event(c.root)
            yield self.env.timeout(exp(rng, handoff))
            tally.messages += 1
            tally.minutes += item
            return ""
        if k < 2 or action in ROUTING:
            tally.messages += 1 if k > 1 else 0  # a routing note to the owning team
            return ""
        if c.owner_team == c.responder_team:
            tally.messages += k * (k - 1) / 2
            tally.minutes += item * k
            return ""
        if urgent:
            yield self.env.timeout(exp(rng, handoff))
            tally.messages += 1
            tally.minutes += item * 2
            return ""
        hops, chair = self._route(c.responder_team, c.owner_team)
        for _ in range(hops):
            yield self.env.timeout(exp(rng, handoff))
        yield self.env.timeout(self.people.next_sync(chair) - self.env.now)
        tally.messages += hops + 1
        tally.minutes += handoff * hops + item * (1 + self.reports.get(chair, 0))
        tally.minutes += yield from self.people.decide(chair, False, sev, rng)
        return chair

    def _route(self, team_a: str, team_b: str) -> tuple[int, str]:
        """Hops between two leads via their lowest common manager, and who chairs there."""
        # Without a shared manager: up one line to its top, across, and down the other.
        a, b = self.org.team[team_a].lead, self.org.team[team_b].lead
        line_a, line_b = [a, *chain_up(self.org, a)], [b, *chain_up(self.org, b)]
        for i, m in enumerate(line_a):
            if m in line_b:
                return i + line_b.index(m), m
        return len(line_a) + len(line_b) - 1, line_a[-1]

    def _authority(self, c: Case, responder: str, chosen: Option | None, best: str,
                   options: list[Option]) -> list[str]:
        """Who above the responder must decide, as the verdict and the teams require."""
        # None, one step, up to the common manager of the teams involved, up to the domain
        # owner, or two steps for an exception to a denial.
        verdict = chosen.verdict if chosen is not None else (
            "denied" if best == "none" and options and all(
                o.verdict == "denied" for o in options) else "autonomous")
        line = chain_up(self.org, responder)
        if verdict == "autonomous" or not line:
            return []
        if verdict == "denied":
            return line[:2]
        if c.owner_team != c.responder_team:
            other = self.org.team[c.owner_team].lead
            theirs = [other, *chain_up(self.org, other)]
            for i, m in enumerate(line):
                if m in theirs:
                    return line[:i + 1]
            return [*line, theirs[-1]]
        if chosen is not None and chosen.approver == "domain_owner":
            owner = self.org.domain[c.situation.domain].owner
            return line[:line.index(owner) + 1] if owner in line else [*line, owner]
        return line[:1]

