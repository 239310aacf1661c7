"""The human side of acting: approvals, rejections, changes, the kill switch, incidents."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from baton.engine.act_chain import ChainSide, touch
from baton.escalation import rules
from baton.escalation.rules import Refusal
from baton.model import Action, Decision, Escalation, Event, Objectives, Verdict
from baton.model.decisions import VerdictKind
from baton.store.port import Step

if TYPE_CHECKING:
    from baton.engine.coordinate import Incident


OBJECTIVE_KEYS = tuple(Objectives.model_fields)


class Change:
    """An approver's change to an escalated action, re-checked by Cedar."""

    def __init__(self, action: Action, verdict: Verdict, context: dict[str, Any],
                 original: Action) -> None:
        self.action, self.verdict, self.context = action, verdict, context
        self.record = {"original": {"params": original.params, "amount": original.amount},
                       "modified": {"params": action.params, "amount": action.amount},
                       "policies": list(verdict.policy_ids)}


class HumanSide(ChainSide):
    """Handles control events and escalation deadlines for the Actor."""

    killed: dict[str, bool]

    if TYPE_CHECKING:
        def plan_closed(self, incident: Incident) -> None:
            """Forget the joint plans of a closed incident (PlanSide)."""

        def step_running(self, key: str, detail: str) -> None:
            """A plan step's action was dispatched (PlanSide)."""

    def _human(self, esc: Escalation, event: Event, now: datetime, **kw: Any) -> Decision:
        return Decision(id=self.e.ledger.next_id(basis=esc.id), time=now, event=event.key,
                        situation=esc.situation, situation_kind="escalation",
                        entity=str(esc.action.get("resource", "")), domain=esc.domain,
                        latency_s=(now - esc.created).total_seconds(), **kw)

    def control(self, event: Event, now: datetime, step: Step) -> None:
        """Apply an approval, rejection or kill-switch command from the log."""
        if event.type == "baton.kill_switch":
            self._kill_switch(event, now, step)
            return
        if event.type == "baton.objectives":
            self._objectives(event, now, step)
            return
        if event.type == "baton.autonomy":
            self.e.ladder.control(event, now, step)
            return
        if event.type == "baton.policy":
            self.e.policies.control(event, now, step)
            return
        if event.type not in ("baton.approve", "baton.reject"):
            return  # baton.tick only moves time
        esc_id = str(event.attrs["escalation"])
        by = str(event.attrs["by"])
        comment = str(event.attrs.get("comment", ""))
        esc = self.open.get(esc_id)
        refusal = None
        if esc is None:
            refusal = f"escalation {esc_id} is not open"
        elif by not in self.e.config.org.person:
            refusal = f"{by!r} is not a person of the organisation"
        if refusal is not None or esc is None:
            self.record(Decision(
                id=self.e.ledger.next_id(basis=event.type), time=now, event=event.key,
                situation="-",
                situation_kind="escalation", entity=esc_id, domain="-", decided_by=by,
                chosen=None, action=None, verdict=None, outcome="refused",
                rationale=refusal or ""), step)
            return
        approve = event.type == "baton.approve"
        found = rules.refusal(self.e.config.org, esc, by, at=now)
        change: Change | Refusal | None = None
        params, amount = event.attrs.get("params"), event.attrs.get("amount")
        if found is None and approve and (params is not None or amount is not None):
            change = self._change(esc, params, amount, now)
            found = change if isinstance(change, Refusal) else None
        if found is not None:
            self.record(self._human(
                esc, event, now, decided_by=by, chosen=esc.decision, action=esc.action,
                verdict=Verdict(kind=VerdictKind.DENIED, policy_ids=found.policy_ids,
                                reason=found.reason) if found.policy_ids else None,
                mode="human",
                outcome=f"refused: {found.rule}",
                rationale=f"{found.reason}; nothing executed, {esc.id} stays open"), step)
            return
        del self.open[esc_id]
        basis = self.basis.pop(esc_id, None)
        decision = self._human(esc, event, now, decided_by=by, chosen=esc.decision,
                               action=esc.action, verdict=None, mode="human",
                               outcome="", rationale=comment or
                               ("approved" if approve else "rejected"))
        if approve and isinstance(change, Change):
            decision.action = change.action.model_dump(mode="json")
            decision.verdict, decision.context = change.verdict, change.context
            decision.modification = change.record
            decision.outcome = "approved with changes; dispatched"
            self._execute(change.action, decision, esc.domain, now, step, basis,
                          resolves=esc_id, outcome=decision.outcome)
        elif approve:
            action = Action.model_validate(esc.action)
            decision.outcome = "approved; dispatched"
            self._execute(action, decision, esc.domain, now, step, basis, resolves=esc_id,
                          outcome=decision.outcome)
        else:
            decision.outcome = "rejected"
        esc.status = "approved" if approve else "rejected"
        esc.resolved_by, esc.resolved_at, esc.comment = by, now, comment
        esc.resolution = decision.outcome
        touch(esc, step)
        self.record(decision, step)
        self.e.ladder.answered(esc, decision, approve, isinstance(change, Change),
                               basis.situation if basis is not None else None, now, step)
        if not approve:
            self.step_resolved(esc_id, "rejected", f"rejected by {by}", event.key, now, step)
        else:
            self.step_running(esc_id, f"approved by {by}; dispatched by {decision.id}")

    def check_change(self, esc_id: str, params: Any, amount: Any, at: datetime) -> str | None:
        """Why approving `esc_id` with these params/amount would be refused (writes nothing)."""
        esc = self.open.get(esc_id)
        if esc is None:
            return f"escalation {esc_id} is not open"
        found = self._change(esc, params, amount, at)
        return found.reason if isinstance(found, Refusal) else None

    def _change(self, esc: Escalation, params: Any, amount: Any,
                at: datetime) -> Change | Refusal:
        """The changed action re-checked by Cedar with a fresh context, or why not."""
        if params is not None and not isinstance(params, dict):
            return Refusal("invalid change", "params must be an object of the action's "
                           f"parameters, got {type(params).__name__}")
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)
                                   or amount < 0):
            return Refusal("invalid change", f"amount must be a whole number >= 0, got "
                           f"{amount!r}")
        original = Action.model_validate(esc.action)
        action = original.model_copy(update={
            "params": {**original.params, **(params or {})},
            "amount": original.amount if amount is None else amount})
        basis = self.basis.get(esc.id)
        if basis is None:
            return Refusal("outside policy", "the changed action cannot be re-checked: what "
                           "it was judged on is unknown")
        verdict, ctx = self.judge_action(basis, action, at)
        if verdict.kind is VerdictKind.DENIED:
            return Refusal("outside policy", f"the changed action (params {action.params}, "
                           f"amount {action.amount}) is denied by "
                           f"{', '.join(verdict.policy_ids)}: {verdict.reason}",
                           verdict.policy_ids)
        return Change(action, verdict, ctx, original)

    def _kill_switch(self, event: Event, now: datetime, step: Step) -> None:
        domain = str(event.attrs.get("domain") or "*")
        enabled = bool(event.attrs["enabled"])
        self.killed[domain] = enabled
        step.settings["kill_switch"] = json.dumps(
            {k: v for k, v in sorted(self.killed.items()) if v})
        scope = "global" if domain == "*" else f"domain {domain}"
        self.record(Decision(
            id=self.e.ledger.next_id(basis=event.type), time=now, event=event.key,
            situation="-",
            situation_kind="kill_switch", entity=scope, domain=domain,
            decided_by=str(event.attrs.get("by", "operator")), chosen=None, action=None,
            verdict=None, mode="human",
            outcome=f"kill switch {'on' if enabled else 'off'} ({scope})",
            rationale=str(event.attrs.get("comment", ""))), step)

    def _objectives(self, event: Event, now: datetime, step: Step) -> None:
        """People change the weights coordination optimises; recorded like any decision."""
        before = self.e.objectives
        by = str(event.attrs["by"])
        weights = {k: event.attrs[k] for k in OBJECTIVE_KEYS if k in event.attrs}
        try:
            after = before.changed(weights)
        except ValidationError as exc:
            first = exc.errors()[0]
            after, problem = before, f"{first['loc'][0]}: {first['msg']}"
        else:
            problem = ""
        self.e.objectives = after
        step.settings["objectives"] = after.model_dump_json()
        changed = {k: (getattr(before, k), getattr(after, k)) for k in OBJECTIVE_KEYS
                   if getattr(before, k) != getattr(after, k)}
        self.record(Decision(
            id=self.e.ledger.next_id(basis=event.type), time=now, event=event.key,
            situation="-",
            situation_kind="objectives", entity="objectives", domain="*", decided_by=by,
            chosen=None, action=None, verdict=None, mode="human",
            outcome="objectives refused" if problem else "objectives changed",
            context={"before": before.model_dump(), "after": after.model_dump()},
            rationale=(f"refused, nothing changed: {problem}" if problem else
                       ", ".join(f"{k} {a:g} -> {b:g}" for k, (a, b) in changed.items())
                       or "no change") + (f"; {event.attrs['comment']}"
                                          if event.attrs.get("comment") else "")), step)

    def incident_closed(self, incident: Incident) -> None:
        """Count a closed incident's time to resolve."""
        if incident.resolved is not None:
            minutes = (incident.resolved - incident.opened).total_seconds() / 60.0
            self.e.stats.resolved += 1
            self.e.stats.ttr_total_minutes += minutes
        self.plan_closed(incident)
        self.e.picture.incident_closed(incident.id, incident.root, incident.members,
                                       incident.resolved or incident.last_seen)
        self.e.picture.close_work(f"incident:{incident.id}")
