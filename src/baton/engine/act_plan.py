"""Joint plans in the engine: fan a new incident out to every affected domain in one step,
run the plan's steps in dependency order, and cancel or compensate what follows a failure.

Every step is a governed proposal: Cedar judges it, autonomy levels, the kill switch and
budgets cap it, and conflicts are arbitrated, exactly as for an agent's own decision.
The plan is one ledger record; a later change to it (an approval, a reported failure) is
one more record that shows the steps that changed (`JointPlan.record`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from baton.engine.act_chain import Basis, touch
from baton.engine.notices import choose_notices
from baton.engine.plan import DONE, JointPlan, PlanStep
from baton.execution.effects import action_key
from baton.governance.gate import GateRequest, cap
from baton.model import Action, Decision, Escalation, Event, Proposal, Situation, Verdict
from baton.model.decisions import VerdictKind
from baton.store.port import Step

if TYPE_CHECKING:
    from baton.engine.coordinate import Incident
    from baton.engine.pipeline import Engine


@dataclass(frozen=True)
class Root:
    """The root-cause decision a plan starts from."""

    situation: Situation
    incident: Incident
    agent: str
    decision: Decision
    proposal: Proposal | None


def _root_status(outcome: str) -> str:
    if outcome.startswith("dispatched"):
        return "running"
    for status in ("executed", "escalated", "shadowed", "denied", "held"):
        if outcome.startswith(status):
            return status
    return "failed" if outcome.startswith("failed") else "held"


class PlanSide:
    """Builds and runs joint plans for the Actor."""

    e: Engine
    open: dict[str, Any]
    basis: dict[str, Basis]
    plans: dict[str, JointPlan]
    plan_keys: dict[str, tuple[str, str]]  # escalation id or action key -> (plan, step)
    plans_of: dict[str, list[str]]  # incident -> its plans
    keys_of: dict[str, list[str]]  # plan -> its keys in plan_keys
    noticed: dict[str, tuple[datetime, str]]  # team -> (when, id) of its last plan notice

    if TYPE_CHECKING:  # provided by the Actor and its other sides
        def record(self, decision: Decision, step: Step) -> None:
            ...

        def killed_scope(self, domain: str) -> str | None:
            ...

        def context_for(self, proposal: Proposal, situation: Situation,
                        now: datetime) -> dict[str, Any]:
            ...

        def _execute(self, action: Action, decision: Decision, domain: str, now: datetime,
                     step: Step, basis: Basis | None = None, key: str | None = None, *,
                     resolves: str | None = None, outcome: str = "dispatched") -> str:
            ...

        def _escalate(self, decision: Decision, action: Action, verdict: Verdict | None,
                      severity: int, now: datetime, step: Step, basis: Basis | None = None,
                      esc_id: str | None = None) -> str:
            ...

        def compensate(self, action: Action, key: str, decision: Decision, domain: str,
                       now: datetime, step: Step, *, plan_step: tuple[str, str] | None = None,
                       outcome: str = "") -> None:
            ...

        def judge_action(self, basis: Basis, action: Action,
                         at: datetime) -> tuple[Verdict, dict[str, Any]]:
            ...

        def note(self, esc: Escalation, at: datetime, step: Step, change: str,
                 **fields: Any) -> None:
            ...

    # -- build --------------------------------------------------------------------------

    def affected(self, root: str) -> dict[str, Any]:
        """What an outage of `root` touches: dependents, their teams and domains, tier 0."""
        org, graph = self.e.config.org, self.e.graph
        services = org.service
        dependents = sorted(graph.dependents(root))
        own = services[root].team if root in services else None
        by_team: dict[str, list[str]] = {}
        for d in dependents:
            if d in services and services[d].team != own:
                by_team.setdefault(services[d].team, []).append(d)
        teams = sorted(by_team)
        hit = [root, *dependents]
        domains = sorted({org.team[t].domain for t in [*teams, *([own] if own else [])]
                          if t in org.team})
        return {"dependents": len(dependents), "teams": teams, "domains": domains,
                "services_by_team": by_team,
                "tier0": any(s in services and services[s].tier == 0 for s in hit),
                "customer_facing": any(s in services and services[s].customer_facing
                                       for s in hit)}

    def fan_out(self, root: Root, event: Event, now: datetime, step: Step) -> None:
        """Build the joint plan for a new incident with dependents, run it and record it."""
        settings = self.e.config.settings.coordination
        entity = root.situation.entity
        affected = self.affected(entity)
        if not affected["dependents"]:
            return
        by_team = affected.pop("services_by_team")
        pid = self.e.ledger.next_id(basis="plan:" + root.situation.id)
        plan = JointPlan(id=pid, incident=root.incident.id, root=entity, created=now,
                         events=list(root.incident.events), affected=affected)
        if root.proposal is not None:
            plan.add(PlanStep(id=f"{pid}/root", agent=root.agent, proposal=root.proposal,
                              status=_root_status(root.decision.outcome),
                              detail=f"decision {root.decision.id}: {root.decision.outcome}",
                              verdict=root.decision.verdict, situation=root.situation))
            a = root.proposal.action
            if plan.steps[0].status == "escalated":
                self._key("E" + root.decision.id[1:], pid, plan.steps[0].id)
            elif plan.steps[0].status == "running":  # its result carries the plan on
                self._key(action_key(root.decision.id, a.kind, a.resource), pid,
                          plan.steps[0].id)
        new: list[PlanStep] = []
        impact = settings.impact_situation
        facts = {"root": entity, "incident": root.incident.id,
                 "root_kind": root.situation.kind, "dependents": affected["dependents"],
                 "teams": ", ".join(affected["teams"]), "domains": ", ".join(
                     affected["domains"]), "tier0": affected["tier0"],
                 "customer_facing": affected["customer_facing"]}
        for agent in sorted((a for a in self.e.agents if a.handles(impact)), key=lambda a: a.id):
            self.e.stats.messages += 1  # the agent is consulted
            situation = Situation.model_construct(
                id=f"{root.situation.id}/{agent.domain}", kind=impact, entity=entity,
                domain=agent.domain, detector="coordinator", severity=root.situation.severity,
                time=now, event_ids=list(root.situation.event_ids), facts=facts, root=None)
            proposals = agent.propose(situation)
            ids = {p.action.kind: f"{pid}/{agent.id}/{i}" for i, p in enumerate(proposals)}
            ids["root"] = f"{pid}/root"
            for i, p in enumerate(proposals):
                after = [ids[k] for k in p.after if k in ids]
                new.append(PlanStep(id=f"{pid}/{agent.id}/{i}", agent=agent.id, proposal=p,
                                    after=after, situation=situation))
        if settings.notify_action and root.proposal is not None:
            choice = choose_notices(root=entity, by_team=by_team, graph=self.e.graph,
                                    org=self.e.config.org, picture=self.e.picture,
                                    settings=settings, noticed=self.noticed, now=now,
                                    notice_id=f"{pid}/notify")
            for team, services, reason in choice.send:
                new.append(self._notice(plan, root, team, services, settings.notify_action,
                                        facts, reason))
            plan.affected["notices"] = {"sent": [t for t, _, _ in choice.send],
                                        "digested": choice.digested,
                                        "beyond_radius": len(choice.beyond)}
        objectives = self.e.objectives
        for st in new:
            p = st.proposal
            p.score = objectives.score(minutes=p.minutes, cost=p.cost, risk=p.risk,
                                       customer_impact=p.customer_impact)
            if any(a == f"{pid}/root" for a in st.after) and root.proposal is None:
                st.after = []
                st.status, st.detail = "cancelled", "no root-cause action was chosen"
            plan.add(st)
        self._judge(new, now)
        decision = self._plan_decision(plan, root, event.key, now)
        self._advance(plan, decision, now, step)
        decision.rationale = (
            f"{entity} is the root cause ({root.situation.kind}): {affected['dependents']} "
            f"dependent services of {len(affected['teams'])} other teams "
            f"({', '.join(affected['domains'])}); one plan: {plan.summary()}")
        decision.plan = plan.record(whole=True)
        self.plans[pid] = plan
        self.plans_of.setdefault(plan.incident, []).append(pid)
        self.record(decision, step)

    def _key(self, key: str, pid: str, step_id: str) -> None:
        """Remember which plan step an escalation id or an action key belongs to."""
        self.plan_keys[key] = (pid, step_id)
        self.keys_of.setdefault(pid, []).append(key)

    def _notice(self, plan: JointPlan, root: Root, team: str, services: list[str], kind: str,
                facts: dict[str, Any], reason: str) -> PlanStep:
        self.e.stats.messages += 1  # the team is told once per digest window
        action = Action.model_construct(
            kind=kind, resource=team, resource_type="Team",
            params={"incident": plan.incident, "root": plan.root, "services": services,
                    "why": reason}, amount=0, compensation=None)
        p = Proposal.model_construct(
            id=f"{plan.id}/notify/{team}", agent=root.agent, domain=root.situation.domain,
            situation=root.situation.id, action=action,
            expected_effect=f"{team} knows {plan.root} is the cause and holds its own response",
            cost=0.0, risk=0, minutes=1.0, customer_impact=0, confidence=1.0,
            rationale=f"{len(services)} services of {team} depend on {plan.root}",
            evidence={"incident": plan.incident}, score=0.0, after=[])
        situation = root.situation.model_copy(update={"facts": facts})
        return PlanStep(id=f"{plan.id}/notify/{team}", agent=root.agent, proposal=p,
                        situation=situation)

    def _judge(self, steps: list[PlanStep], now: datetime) -> None:
        todo = [s for s in steps if s.status == "planned" and s.situation is not None]
        requests = []
        for st in todo:
            assert st.situation is not None
            st.context = self.context_for(st.proposal, st.situation, now)
            a = st.proposal.action
            requests.append(GateRequest(st.agent, st.proposal.domain, a.kind, a.resource,
                                        a.resource_type, st.context))
        for st, verdict in zip(todo, self.e.gate.judge(requests), strict=True):
            st.verdict = verdict

    def _plan_decision(self, plan: JointPlan, root: Root, event: str,
                       now: datetime) -> Decision:
        return Decision.model_construct(
            id=self.e.ledger.next_id(basis="plan:" + root.situation.id), time=now, event=event,
            situation=root.situation.id,
            situation_kind="plan", entity=plan.root, domain=root.situation.domain,
            decided_by="coordinator", chosen=root.decision.id, action=None, proposals=[],
            verdict=None, mode=root.decision.mode, outcome="planned", rationale="",
            context={}, latency_s=(now - root.situation.time).total_seconds(),
            modification=None, plan=None)

    # -- run ----------------------------------------------------------------------------

    def _advance(self, plan: JointPlan, decision: Decision, now: datetime,
                 step: Step) -> None:
        """Run every step that can run now, in dependency order."""
        for n, st in enumerate(plan.order()):
            if st.status in ("planned", "waiting"):
                self._run(plan, st, n, decision, now, step)

    def _run(self, plan: JointPlan, st: PlanStep, n: int, decision: Decision,
             now: datetime, step: Step) -> None:
        up = plan.blocked(st)
        if up is not None:
            st.status = "cancelled"
            st.detail = f"{up.proposal.action.kind} ({up.id}) {up.status}: not run"
            return
        if not plan.ready(st):
            st.status = "waiting"
            st.detail = "waits for " + ", ".join(
                a for a in st.after if plan.step(a).status not in DONE)
            return
        p, situation = st.proposal, st.situation
        assert situation is not None
        basis = Basis(st.agent, p, situation)
        if st.status == "waiting" or st.verdict is None:  # judged afresh when it can run
            st.verdict, st.context = self.judge_action(basis, p.action, now)
        level = self.e.config.settings.autonomy.level(p.domain, p.action.kind)
        v = cap(st.verdict, level=level, killed=self.killed_scope(p.domain),
                amount=p.action.amount, budget_left=self.e.budgets.left(p.domain, now))
        st.verdict = v
        if v.kind is VerdictKind.DENIED:
            st.status, st.detail = "denied", v.reason
            return
        claim = self.e.coordinator.conflict(p.action, now)
        if claim is not None and claim.score >= p.score:
            self.e.stats.conflicts += 1
            st.status = "held"
            st.detail = (f"lost arbitration: {claim.kind} on {p.action.resource} by "
                         f"{claim.decision} scores {claim.score} >= {p.score}")
            return
        if self.e.coordinator.contended(p.action.kind):
            self.e.coordinator.claim(p.action, decision.id, p.score, now, p)
        key = action_key(decision.id, n, p.action.kind, p.action.resource)
        if level == "shadow":
            st.status, st.detail = "shadowed", "shadow mode: recorded, not run"
        elif v.kind is VerdictKind.AUTONOMOUS:
            self._execute(p.action, decision, p.domain, now, step, basis, key=key, outcome="")
            st.status, st.detail = "running", f"dispatched as {key}"
            self._key(key, plan.id, st.id)
        else:
            esc = self._escalate(decision, p.action, v, situation.severity, now, step, basis,
                                 esc_id=f"E{decision.id[1:]}.{n}")
            st.status, st.detail, st.escalation = "escalated", f"{esc} ({v.reason})", esc
            self._key(esc, plan.id, st.id)
        self.e.stats.verdicts[v.kind.value] += 1

    def _unwind(self, plan: JointPlan, failed: PlanStep, decision: Decision, now: datetime,
                step: Step) -> None:
        """Cancel what waits on a failed step; compensate what already ran, newest first."""
        why = f"{failed.proposal.action.kind} ({failed.id}) failed"
        for st in reversed(plan.downstream(failed.id)):
            if st.status in ("planned", "waiting"):
                st.status, st.detail = "cancelled", f"{why}: not run"
            elif st.status == "escalated" and st.escalation is not None:
                self._supersede_escalation(st.escalation, why, now, step)
                st.status, st.detail = "cancelled", f"{why}: approval request withdrawn"
            elif st.status == "executed":
                a = st.proposal.action
                if not a.compensation:
                    st.detail = f"{why}; it has no compensating action"
                    continue
                self.compensate(a, action_key(decision.id, st.id), decision, st.proposal.domain,
                                now, step, plan_step=(plan.id, st.id))
                st.status = "compensating"
                st.detail = f"{why}: being undone by {a.compensation}"
            elif st.status == "running":
                st.detail = f"{why}: already dispatched; undone if it succeeds"

    def _supersede_escalation(self, esc_id: str, why: str, now: datetime,
                              step: Step) -> None:
        esc = self.open.pop(esc_id, None)
        self.basis.pop(esc_id, None)
        if esc is None:
            return
        esc.status, esc.resolved_at, esc.resolved_by = "superseded", now, "baton"
        esc.resolution = f"withdrawn: {why}"
        touch(esc, step)
        self.note(esc, now, step, "withdrawn", resolution=esc.resolution)

    # -- later news ---------------------------------------------------------------------

    def _update_record(self, plan: JointPlan, st: PlanStep, event: str,
                       now: datetime) -> Decision:
        return Decision.model_construct(
            id=self.e.ledger.next_id(basis=st.id), time=now, event=event,
            situation=st.proposal.situation,
            situation_kind="plan", entity=plan.root, domain=st.proposal.domain,
            decided_by="coordinator", chosen=plan.id, action=None, proposals=[],
            verdict=None, mode="autonomous", outcome="plan updated", rationale="",
            context={}, latency_s=(now - plan.created).total_seconds(), modification=None,
            plan=None)

    def step_resolved(self, key: str, status: str, detail: str, event: str, now: datetime,
                      step: Step, *, reported: bool = False) -> None:
        """An escalated step was answered, or a target reported how a step ended."""
        found = self.plan_keys.pop(key, None)
        if found is None or found[0] not in self.plans:
            return
        plan = self.plans[found[0]]
        st = plan.step(found[1])
        st.status, st.detail = status, detail
        decision = self._update_record(plan, st, event, now)
        if status == "failed":
            a = st.proposal.action
            if a.compensation and reported:  # the target undoes what it half did
                self.compensate(a, key, decision, st.proposal.domain, now, step,
                                plan_step=(plan.id, st.id))
                st.detail += f"; being undone by {a.compensation}"
        if status not in DONE:
            self._unwind(plan, st, decision, now, step)
        self._advance(plan, decision, now, step)
        decision.plan = plan.record()
        decision.rationale = (f"step {st.id} ({st.proposal.action.kind} on "
                              f"{st.proposal.action.resource}) {status}: {detail}; "
                              f"plan now: {plan.summary()}")
        self.record(decision, step)

    def step_succeeded(self, key: str, detail: str, event: str, now: datetime,
                       step: Step) -> None:
        """A plan step's action was carried out: run what waited on it, or undo it when
        the plan failed meanwhile. The key stays known: the target may still report later
        that it failed."""
        found = self.plan_keys.get(key)
        if found is None or found[0] not in self.plans:
            return
        plan = self.plans[found[0]]
        st = plan.step(found[1])
        status = "executed"
        a = st.proposal.action
        if any(s.status in ("failed", "unknown") for s in plan.steps) and a.compensation:
            self.compensate(a, key, Decision.model_construct(id=plan.id), st.proposal.domain,
                            now, step, plan_step=found)
            status, detail = "compensating", f"{detail}; the plan failed meanwhile, undoing"
        self.step_resolved(key, status, detail, event, now, step)
        self._key(key, *found)

    def step_running(self, key: str, detail: str) -> None:
        """A plan step's action was dispatched after its approval; its result settles it."""
        found = self.plan_keys.get(key)
        if found is not None and found[0] in self.plans:
            st = self.plans[found[0]].step(found[1])
            st.status, st.detail = "running", detail

    def compensated(self, where: tuple[str, str], ok: bool, detail: str, event: str,
                    now: datetime, step: Step) -> None:
        """A compensation of a plan step ended: record the plan as it stands."""
        plan = self.plans.get(where[0])
        if plan is None:
            return
        st = plan.step(where[1])
        st.status = "compensated" if ok else "compensation failed"
        if not ok:
            st.detail += f" (the compensation failed: {detail})"
        decision = self._update_record(plan, st, event, now)
        decision.plan = plan.record()
        decision.rationale = (f"step {st.id} ({st.proposal.action.kind} on "
                              f"{st.proposal.action.resource}) {st.status}; "
                              f"plan now: {plan.summary()}")
        self.record(decision, step)

    def action_result(self, event: Event, now: datetime, step: Step) -> None:
        """A target reports how an accepted action ended (entity = its idempotency key)."""
        if event.attrs.get("ok") is False and event.entity in self.plan_keys:
            detail = str(event.attrs.get("detail", "reported failed by the target"))[:200]
            self.step_resolved(event.entity, "failed", f"reported failed: {detail}",
                               event.key, now, step, reported=True)

    def plan_closed(self, incident: Incident) -> None:
        """Forget the plans of a closed incident, and the keys that lead to them."""
        for pid in self.plans_of.pop(incident.id, []):
            self.plans.pop(pid, None)
            for key in self.keys_of.pop(pid, []):
                self.plan_keys.pop(key, None)
