"""Decide, govern, act and record for the situations one event raised."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from baton.engine.act_chain import Basis
from baton.engine.act_effects import EffectSide, Pending
from baton.engine.act_human import HumanSide
from baton.engine.act_plan import PlanSide, Root
from baton.engine.context import Budgets, governance_context
from baton.engine.coordinate import Claim, Correlation, Incident
from baton.engine.plan import JointPlan
from baton.governance.gate import GateRequest, cap
from baton.model import Decision, Escalation, Event, Proposal, Situation, Verdict
from baton.model.decisions import VerdictKind
from baton.store.port import Step

if TYPE_CHECKING:
    from baton.engine.decide import Agent
    from baton.engine.pipeline import Engine


#: how a decision's outcome counts in its class's track record
_MODES = {"dispatched": "autonomous", "escalated": "approve", "shadowed": "shadow",
          "observed": "observe"}


@dataclass
class Plan:
    """One situation with its agent and scored, judged candidates."""

    situation: Situation
    agent: Agent
    level: str
    proposals: list[Proposal]
    verdicts: list[Verdict]
    contexts: list[dict[str, Any]]
    incident: Incident | None = None  # a new incident: its root decision starts a joint plan


def _request(agent: str, p: Proposal, context: dict[str, Any]) -> GateRequest:
    """The gate's question about a proposal in a context."""
    return GateRequest(agent, p.domain, p.action.kind, p.action.resource,
                       p.action.resource_type, context)


class Actor(EffectSide, HumanSide, PlanSide):
    """The part of the engine that turns situations into recorded, governed actions."""

    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self.open: dict[str, Escalation] = {}
        self.deadlines: list[tuple[datetime, str]] = []
        self.basis: dict[str, Basis] = {}
        self.killed: dict[str, bool] = {}  # "*" = global, else domain
        self.plans: dict[str, JointPlan] = {}
        self.plan_keys: dict[str, tuple[str, str]] = {}
        self.plans_of: dict[str, list[str]] = {}
        self.keys_of: dict[str, list[str]] = {}
        self.noticed: dict[str, tuple[datetime, str]] = {}  # team -> its last plan notice
        self._spent: list[tuple[str, str, str]] = []
        self._started = 0.0
        self.inflight: dict[str, Pending] = {}
        self.due: list[tuple[datetime, str]] = []
        self.policies_noted: str | None = None  # the hash of the policy set last recorded
        self.policies_version = 0

    def begin(self, started: float) -> None:
        """Mark when handling of the current event began (for engine latency)."""
        self._started = started

    # -- record -----------------------------------------------------------------------

    def record(self, decision: Decision, step: Step) -> None:
        """Append a decision to the ledger and the step."""
        if decision.plan is None:
            body = decision.model_dump(mode="json")
        else:  # a plan's view is in JSON types already (and can be large)
            body = decision.model_dump(mode="json", exclude={"plan"})
            body["plan"] = decision.plan
        body["record"] = "decision"
        body["policy_set"] = self.e.policies.active  # the hash of the set that judged it
        if self.e.ledger.evidence and decision.event == self.e.ledger.cause:
            body["event_digest"] = self.e.ledger.evidence
        step.ledger.append(self.e.ledger.append(decision.id, body))
        step.decisions.append((decision, (time.perf_counter() - self._started) * 1000.0))
        self.e.stats.decisions += 1

    def note_policies(self, now: datetime, step: Step) -> None:
        """Record the policy set in force when the history starts or runs on another one."""
        current = self.e.policy_set
        if self.policies_noted == current.hash:
            return
        self.policies_version += 1
        rid = self.e.ledger.next_id("P", basis="policies")
        body = current.body(rid, now.isoformat(), version=self.policies_version,
                            policies=len(self.e.book.info), previous=self.policies_noted)
        step.ledger.append(self.e.ledger.append(rid, body))
        self.policies_noted = current.hash

    def _decision(self, situation: Situation, event: Event, now: datetime, **kw: Any) -> Decision:
        return Decision.model_construct(
            id=self.e.ledger.next_id(basis=situation.id), time=now, event=event.key,
            situation=situation.id,
            situation_kind=situation.kind, entity=situation.entity, domain=situation.domain,
            latency_s=(now - situation.time).total_seconds(), **kw)

    # -- decide -----------------------------------------------------------------------

    def decide(self, situations: list[Situation], event: Event, now: datetime,
               step: Step) -> None:
        """Correlate, propose, govern in one batch, arbitrate, act and record."""
        plans: list[Plan] = []
        self._spent = []  # (domain, decision, kind) spending budget in this batch
        fanout = self.e.config.settings.coordination.fanout
        for s in situations:
            # an outside agent's proposal is its own matter: never a repeat of another's
            corr = Correlation("new") if self.e.roster.agent_for(s) is not None \
                else self.e.coordinator.correlate(s, now)
            if corr.kind == "duplicate":
                self.e.stats.suppressed += 1
                continue
            if corr.kind == "correlated" and corr.incident is not None:
                self.e.stats.correlated += 1
                self.e.picture.incident_member(corr.incident.id, s.entity, now)
                joint = next(iter(self.plans_of.get(corr.incident.id, ())), None)
                self.record(self._decision(
                    s, event, now, decided_by="coordinator", chosen=joint, action=None,
                    verdict=None, outcome="correlated",
                    rationale=f"{s.entity} depends on {corr.incident.root}; correlated to "
                              f"incident {corr.incident.id}"
                              + (f" and its joint plan {joint}" if joint else "")
                              + ", no separate action"), step)
                continue
            for old in corr.absorbed:
                self._supersede(old, corr.incident, now, step)
            if corr.incident is not None:
                inc = corr.incident
                self.e.picture.incident_opened(inc.id, inc.root, inc.members, now)
                for old in corr.absorbed:
                    self.e.picture.close_work(f"incident:{old.id}")
                if self.e.dispatcher is not None:
                    self.e.dispatcher.incident_opened(inc.id, inc.root, s.severity, now)
            agent = self._agent_for(s)
            if agent is None:
                self.record(self._decision(s, event, now, decided_by="baton", chosen=None,
                                           action=None, verdict=None, outcome="unhandled",
                                           rationale=f"no agent handles {s.kind!r}"), step)
                continue
            level = self.e.roster.level(agent.id,
                                        self.e.config.settings.autonomy.level(s.domain, "*"))
            if level == "observe":
                self.record(self._decision(s, event, now, decided_by=agent.id, chosen=None,
                                           action=None, verdict=None, mode=level,
                                           outcome="observed",
                                           rationale="domain is observe-only"), step)
                continue
            proposals = agent.propose(s)
            for p in proposals:
                p.score = self._score(p)
            opened = corr.incident if fanout and corr.kind == "new" else None
            plans.append(Plan(s, agent, level, proposals, [], [], opened))
        self._govern(plans, now)
        plans.sort(key=lambda pl: (-max((p.score for p in pl.proposals), default=0.0),
                                   pl.situation.id))
        for plan in plans:
            decision, chosen = self._choose_and_act(plan, event, now, step)
            if plan.incident is not None:
                self.fan_out(Root(plan.situation, plan.incident, plan.agent.id, decision,
                                  chosen), event, now, step)

    def _agent_for(self, s: Situation) -> Agent | None:
        outside = self.e.roster.agent_for(s)
        if outside is not None:
            return outside
        fallback = None
        for agent in self.e.agents:
            if agent.handles(s.kind):
                if agent.domain == s.domain:
                    return agent
                fallback = fallback or agent
        return fallback

    def context_for(self, proposal: Proposal, situation: Situation, now: datetime,
                    budgets: Budgets | None = None) -> dict[str, Any]:
        """The governance context of a proposal now (against `budgets`, by default the
        engine's own)."""
        deploy = self.e.monitor.deploys.get(proposal.action.resource)
        since = int((now - deploy[0]).total_seconds() // 60) if deploy else -1
        context = governance_context(proposal, situation, org=self.e.config.org,
                                     graph=self.e.graph, budgets=budgets or self.e.budgets,
                                     now=now, minutes_since_deploy=since)
        context.update(self.e.roster.context(proposal, situation, now))
        return context

    def foresee(self, events: list[Event]) -> int:
        """Put the Cedar questions that these events will probably ask to Cedar in batches
        ahead of processing them (the verdicts are cached by question, so a wrong guess
        costs one extra question and changes no decision); returns the questions asked."""
        requests: list[GateRequest] = []
        autonomy = self.e.config.settings.autonomy
        # spent ahead as the best candidate would spend, unless over the budget (capped)
        budgets = self.e.budgets.copy()
        for event in events:
            if event.is_control or event.type == "action.result":
                continue
            for s in self.e.monitor.foresee(event):
                agent = self._agent_for(s)
                if agent is None or autonomy.level(s.domain, "*") == "observe":
                    continue
                proposals = agent.propose(s)
                requests += [_request(agent.id, p, self.context_for(p, s, event.time, budgets))
                             for p in proposals]
                best = max(proposals, default=None, key=self._score)
                left = None if best is None else budgets.left(best.domain, event.time)
                if best is not None and (left is None or best.action.amount <= left):
                    budgets.spend(best.domain, best.action.amount, event.time)
        return self.e.gate.prefetch(requests) if requests else 0

    def _score(self, p: Proposal) -> float:
        """A proposal's score under the objectives in force."""
        return self.e.objectives.score(minutes=p.minutes, cost=p.cost, risk=p.risk,
                                       customer_impact=p.customer_impact)

    def _govern(self, plans: list[Plan], now: datetime) -> None:
        requests: list[GateRequest] = []
        for plan in plans:
            for p in plan.proposals:
                ctx = self.context_for(p, plan.situation, now)
                plan.contexts.append(ctx)
                requests.append(_request(plan.agent.id, p, ctx))
        verdicts = iter(self.e.gate.judge(requests))
        for plan in plans:
            plan.verdicts = [next(verdicts) for _ in plan.proposals]

    def killed_scope(self, domain: str) -> str | None:
        """Where the kill switch stops `domain`: "global", the domain, or None."""
        if self.killed.get("*"):
            return "global"
        return domain if self.killed.get(domain) else None

    def _choose_and_act(self, plan: Plan, event: Event, now: datetime,
                        step: Step) -> tuple[Decision, Proposal | None]:
        """Choose the best allowed candidate that wins its arbitration, act, and record."""
        s = plan.situation
        order = sorted(range(len(plan.proposals)),
                       key=lambda i: (-plan.proposals[i].score, i))
        considered: list[dict[str, Any]] = []
        chosen: tuple[Proposal, Verdict, dict[str, Any], str] | None = None
        lost: tuple[Proposal, Verdict, dict[str, Any], Claim] | None = None
        for i in order:
            p, v, ctx = plan.proposals[i], plan.verdicts[i], plan.contexts[i]
            entry: dict[str, Any] = {"id": p.id, "action": p.action.kind,
                                     "resource": p.action.resource, "score": p.score,
                                     "verdict": v.kind.value, "policies": list(v.policy_ids)}
            considered.append(entry)
            if chosen is not None:
                entry["outcome"] = f"not chosen: {chosen[0].action.kind} scored higher"
                continue
            own = self.e.ladder.override(p.domain, s.kind, p.action.kind)
            level = self.e.roster.level(plan.agent.id, own or self.e.config.settings.autonomy
                                        .level(p.domain, p.action.kind))
            v = cap(v, level=level, killed=self.killed_scope(p.domain), amount=p.action.amount,
                    budget_left=self.e.budgets.left(p.domain, now))
            v = self.e.roster.limit(plan.agent.id, p, v, s, now)
            if v.kind is VerdictKind.DENIED:
                plan.verdicts[i] = v  # an outside agent's own limit denies like a policy
            entry["verdict"], entry["policies"] = v.kind.value, list(v.policy_ids)
            if v.kind is VerdictKind.DENIED:
                entry["outcome"] = f"denied: {v.reason}"
                continue
            claim = self.e.coordinator.conflict(p.action, now, self.e.objectives)
            if claim is not None and claim.score >= p.score:
                self.e.stats.conflicts += 1
                entry["outcome"] = (f"lost arbitration ({claim.why}): {claim.kind} on "
                                    f"{p.action.resource} by {claim.decision} scores "
                                    f"{claim.score} >= {p.score} under the objectives")
                lost = lost or (p, v, ctx, claim)
                continue
            entry["outcome"] = "chosen" + (f" (overrides {claim.kind} by {claim.decision}: "
                                           f"{claim.why}; higher objective score "
                                           f"{p.score} > {claim.score})" if claim else "")
            taken = [x for x in self._spent if x[0] == p.domain]
            if v.capped_by == "budget" and taken:
                entry["outcome"] += (f"; budget taken by {taken[-1][1]} ({taken[-1][2]}), "
                                     "ranked higher by the objectives in this batch")
            chosen = (p, v, ctx, own or plan.level)
        if chosen is None and lost is not None:
            return self._escalate_loser(plan, lost, considered, event, now, step)
        if chosen is None:
            denied = [plan.verdicts[i] for i in order
                      if plan.verdicts[i].kind is VerdictKind.DENIED]
            verdict = denied[0] if denied and len(denied) == len(order) else None
            if verdict is not None:
                self.e.stats.verdicts["denied"] += 1
            outcome = "denied" if verdict else ("held" if order else "no-candidate")
            held = self._decision(
                s, event, now, decided_by=plan.agent.id, chosen=None, action=None,
                proposals=considered, verdict=verdict, mode=plan.level, outcome=outcome,
                rationale="every candidate was " + ("denied" if verdict else "held back")
                if order else f"no playbook candidate applies to {s.kind}")
            self.record(held, step)
            return held, None
        p, v, ctx, mode = chosen
        self.e.stats.verdicts[v.kind.value] += 1
        decision = self._decision(s, event, now, decided_by=plan.agent.id, chosen=p.id,
                                  action=p.action.model_dump(mode="json"), proposals=considered,
                                  verdict=v, mode=mode, rationale=p.rationale,
                                  context=ctx, outcome="")
        if self.e.coordinator.contended(p.action.kind):
            self.e.coordinator.claim(p.action, decision.id, p.score, now, p)
        basis = Basis(plan.agent.id, p, s)
        if mode not in ("shadow", "observe") and \
                s.severity <= self.e.config.settings.escalation.urgent_severity:
            step.urgent = True  # its action or its page goes out now, not after the batch
        if mode == "observe":  # the class's level on the ladder: record, never act or ask
            decision.outcome = "observed"
        elif mode == "shadow":
            decision.outcome = "shadowed"
        elif v.kind is VerdictKind.AUTONOMOUS:
            decision.outcome = self._execute(p.action, decision, p.domain, now, step, basis)
        else:
            decision.outcome = "escalated"
            self._escalate(decision, p.action, v, s.severity, now, step, basis)
        self.record(decision, step)
        self.e.ladder.decided(decision, self.e.ladder.class_of(p.domain, s.kind, p.action.kind),
                              _MODES.get(decision.outcome, mode), s, now, step)
        return decision, p

    def _escalate_loser(self, plan: Plan, lost: tuple[Proposal, Verdict, dict[str, Any], Claim],
                        considered: list[dict[str, Any]], event: Event, now: datetime,
                        step: Step) -> tuple[Decision, Proposal | None]:
        """Every allowed candidate lost its arbitration: a person decides whether to override.

        Nothing runs without them; the request carries both sides of the conflict.
        """
        p, v, ctx, claim = lost
        s = plan.situation
        reason = (f"{p.action.kind} on {p.action.resource} lost arbitration to {claim.kind} "
                  f"by {claim.decision} ({claim.why}; {claim.score} >= {p.score} under the "
                  "objectives) and no alternative candidate remains")
        verdict = Verdict(kind=VerdictKind.APPROVAL, policy_ids=v.policy_ids,
                          approver=v.approver or "oncall", reason=reason,
                          capped_by="arbitration")
        self.e.stats.verdicts["approval"] += 1
        decision = self._decision(s, event, now, decided_by=plan.agent.id, chosen=p.id,
                                  action=p.action.model_dump(mode="json"), proposals=considered,
                                  verdict=verdict, mode=plan.level, rationale=reason,
                                  context=ctx, outcome="escalated: lost arbitration")
        if plan.level == "shadow":
            decision.outcome = "shadowed: lost arbitration"
        else:
            self._escalate(decision, p.action, verdict, s.severity, now, step,
                           Basis(plan.agent.id, p, s))
        self.record(decision, step)
        return decision, None

    def _supersede(self, old: Incident, new: Incident | None, now: datetime,
                   step: Step) -> None:
        """An earlier incident turned out to share a deeper root: close it as merged."""
        old.resolved = now
        if new is not None:
            new.members.add(old.root)
