"""Effects in the engine: dispatch an allowed action to the outbox, fold its result in.

Dispatch never waits: it writes an Effect beside the decision. The result comes back
later (an `action.result` event in live runs, or at the effect's due time in virtual
time) and only then does the engine spend budget for good, compensate, escalate a
failure, or carry a joint plan on.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from baton.engine.act_chain import Basis
from baton.execution.effects import RESULT_PREFIX, Effect, Outcome, action_key
from baton.model import Action, Decision, Verdict
from baton.store.port import Step

if TYPE_CHECKING:
    from baton.engine.pipeline import Engine

DISPATCHED = "dispatched"


@dataclass
class Pending:
    """An effect in flight, with what its result continues."""

    effect: Effect
    decision: Decision
    basis: Basis | None
    esc_id: str | None  # the escalation a failure opens
    resolves: str | None  # the plan key (action key or escalation id) its result settles
    outcome: str  # the decision's outcome, with DISPATCHED where the result goes
    plan_step: tuple[str, str] | None = None  # a compensation: the step it undoes


class EffectSide:
    """Dispatches effects and folds their outcomes in, for the Actor."""

    e: Engine
    inflight: dict[str, Pending]
    due: list[tuple[datetime, str]]  # a heap of in-flight effects by due time

    if TYPE_CHECKING:  # provided by the Actor and its other sides
        def _escalate(self, decision: Decision, action: Action, verdict: Verdict | None,
                      severity: int, now: datetime, step: Step, basis: Basis | None = None,
                      esc_id: str | None = None, note: str = "") -> str: ...

        def step_resolved(self, key: str, status: str, detail: str, event: str,
                          now: datetime, step: Step, *, reported: bool = False) -> None: ...

        def step_succeeded(self, key: str, detail: str, event: str, now: datetime,
                           step: Step) -> None: ...

        def compensated(self, where: tuple[str, str], ok: bool, detail: str, event: str,
                        now: datetime, step: Step) -> None: ...

        _spent: list[tuple[str, str, str]]

    def _execute(self, action: Action, decision: Decision, domain: str, now: datetime,
                 step: Step, basis: Basis | None = None, key: str | None = None, *,
                 resolves: str | None = None, outcome: str = DISPATCHED) -> str:
        """Dispatch an allowed action: budget is held, the effect joins the outbox."""
        # a plan step's key is "<decision>:<n>:<kind>:<resource>": its own escalation id
        esc_id = None if key is None else f"E{decision.id[1:]}.{key.split(':')[1]}f"
        key = key or action_key(decision.id, action.kind, action.resource)
        effect = self.e.executor.effect(action, key=key, decision=decision.id, domain=domain,
                                        at=now)
        self.e.stats.actions_dispatched += 1
        self.e.budgets.spend(domain, action.amount, now)  # held; given back on failure
        self.e.roster.note(basis.agent if basis else decision.decided_by, action, now)
        if action.amount:
            self._spent.append((domain, decision.id, action.kind))
        self.e.stats.spend += action.amount
        self._dispatch(effect, Pending(effect, decision, basis, esc_id,
                                       resolves if resolves is not None else key, outcome),
                       step)
        return DISPATCHED

    def compensate(self, action: Action, key: str, decision: Decision, domain: str,
                   now: datetime, step: Step, *, plan_step: tuple[str, str] | None = None,
                   outcome: str = "") -> None:
        """Dispatch `action`'s compensating action (it must have one) as `key`:compensate."""
        assert action.compensation is not None
        undo = Action(kind=action.compensation, resource=action.resource,
                      resource_type=action.resource_type, params=action.params)
        self.e.stats.compensations += 1
        effect = self.e.executor.effect(undo, key=key + ":compensate", decision=decision.id,
                                        domain=domain, at=now, purpose="compensate")
        self._dispatch(effect, Pending(effect, decision, None, None, None, outcome,
                                       plan_step), step)

    def notify(self, decision: Decision, kind: str, person: str, params: dict[str, Any],
               now: datetime, step: Step) -> None:
        """Tell a person of what `decision` did, through the connectors (no budget, no
        plan; its result is recorded like any other)."""
        action = Action.model_construct(kind=kind, resource=person, resource_type="Person",
                                        params=params, amount=0, compensation=None)
        effect = self.e.executor.effect(action, key=action_key(decision.id, kind, person),
                                        decision=decision.id, domain=decision.domain,
                                        at=now, purpose="notice")
        self._dispatch(effect, Pending(effect, decision, None, None, None, ""), step)

    def _dispatch(self, effect: Effect, pending: Pending, step: Step) -> None:
        if effect.key in self.inflight:
            return  # the same key twice is the same action: it is carried out once
        self.inflight[effect.key] = pending
        if not self.e.live:  # live results come back as events, never at a due time
            heapq.heappush(self.due, (effect.due, effect.key))
        step.effects.append(effect)
        self.e.effect_dispatched(effect)

    def next_due(self) -> datetime | None:
        """When the earliest in-flight effect is due, skipping folded ones."""
        while self.due and self.due[0][1] not in self.inflight:
            heapq.heappop(self.due)
        return self.due[0][0] if self.due else None

    def pop_due(self) -> Effect:
        """The earliest in-flight effect (call after next_due)."""
        _, key = heapq.heappop(self.due)
        return self.inflight[key].effect

    def fold(self, outcome: Outcome, now: datetime, step: Step) -> None:
        """An effect ended: record its result, then spend, compensate, escalate or go on."""
        p = self.inflight.pop(outcome.key, None)
        if p is None:
            return  # not ours, or folded already
        e, a = p.effect, p.effect.action
        self.e.ledger.begin(RESULT_PREFIX + e.key)
        rid = self.e.ledger.next_id("R")
        body = {"record": "result", "id": rid, "key": e.key, "decision": e.decision, "kind": a.kind,
                "resource": a.resource, "purpose": e.purpose, "status": outcome.status,
                "attempts": outcome.attempts, "detail": outcome.detail[:500],
                "dispatched": e.at.isoformat(), "time": now.isoformat()}
        step.ledger.append(self.e.ledger.append(rid, body))
        detail = outcome.detail[:120]
        if e.purpose == "notice":
            return  # told, or the result record says why not: nothing else follows
        if e.purpose == "compensate":
            if p.plan_step is not None:
                self.compensated(p.plan_step, outcome.ok, detail, RESULT_PREFIX + e.key, now,
                                 step)
            if p.outcome:
                self._outcome(p, "compensated" if outcome.ok else "compensation failed",
                              step, token="compensating")
            return
        self.e.ladder.result(e.decision, outcome.ok, outcome.status, outcome.detail, now, step)
        if outcome.ok:
            self.e.stats.actions_executed += 1
            self._outcome(p, "executed", step)
            if p.resolves is not None:
                self.step_succeeded(p.resolves, f"decision {e.decision}: executed",
                                    RESULT_PREFIX + e.key, now, step)
            return
        if outcome.status == "unknown":
            self.e.stats.actions_unknown += 1
            text = (f"unknown ({outcome.detail[:300]}); escalated for a person to reconcile, "
                    "not compensated")
            self._escalate(p.decision, a, None, 1, now, step, p.basis, esc_id=p.esc_id,
                           note=f"Reconcile by hand: {outcome.detail[:400]}. Approve to send "
                                "it again (a new key) only if it did not happen; reject if "
                                "it did.")
            status = "unknown"
        else:
            self.e.stats.actions_failed += 1
            self.e.budgets.spend(e.domain, -a.amount, e.at)  # spent only on success
            self.e.stats.spend -= a.amount
            if a.compensation:
                text = f"failed ({detail}); compensating by {a.compensation}"
                self.compensate(a, e.key, p.decision, e.domain, now, step,
                                outcome=p.outcome.replace(DISPATCHED, text))
            else:
                text = f"failed ({detail}); escalated to on-call"
                self._escalate(p.decision, a, None, 1, now, step, p.basis, esc_id=p.esc_id,
                               note=f"It failed at the target: {outcome.detail[:400]}. "
                                    "Approve to try it again.")
            status = "failed"
        self._outcome(p, text, step)
        if p.resolves is not None:
            self.step_resolved(p.resolves, status, f"decision {e.decision}: {text}",
                               RESULT_PREFIX + e.key, now, step)

    def _outcome(self, p: Pending, text: str, step: Step, *, token: str = DISPATCHED) -> None:
        """The decision's outcome as it stands now (its ledger record keeps the original)."""
        if not p.outcome or token not in p.outcome:
            return
        step.outcomes.append((p.decision.id, p.outcome.replace(token, text, 1)))
