"""Escalation chains in the engine: page a step, move up when its SLA passes, fall back."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from baton.escalation import routing, rules
from baton.governance.gate import GateRequest, cap
from baton.model import Action, Decision, Escalation, Proposal, Situation, Verdict
from baton.model.decisions import VerdictKind
from baton.store.port import Step

if TYPE_CHECKING:
    from baton.engine.pipeline import Engine


@dataclass(frozen=True)
class Basis:
    """What an escalated action was judged on: re-checks of changes and fallbacks use it."""

    agent: str
    proposal: Proposal
    situation: Situation


def touch(esc: Escalation, step: Step) -> None:
    """Have the step write the escalation (once per step; its latest state is written)."""
    if not any(e is esc for e in step.escalations):
        step.escalations.append(esc)


class ChainSide:
    """Creates escalations and walks them up their chain in engine time."""

    e: Engine
    open: dict[str, Escalation]
    deadlines: list[tuple[datetime, str]]  # a heap; entries of resolved ones are skipped
    basis: dict[str, Basis]  # by escalation id, while open

    def record(self, decision: Decision, step: Step) -> None:  # provided by Actor
        """Append a decision to the ledger and the step."""
        raise NotImplementedError

    if TYPE_CHECKING:
        def _execute(self, action: Action, decision: Decision, domain: str, now: datetime,
                     step: Step, basis: Basis | None = None, key: str | None = None, *,
                     resolves: str | None = None, outcome: str = "dispatched") -> str:
            """Dispatch an allowed action (EffectSide)."""

    def context_for(self, proposal: Proposal, situation: Situation,
                    now: datetime) -> dict[str, Any]:  # provided by Actor
        """The governance context of a proposal now."""
        raise NotImplementedError

    def killed_scope(self, domain: str) -> str | None:  # provided by Actor
        raise NotImplementedError

    if TYPE_CHECKING:
        def step_resolved(self, key: str, status: str, detail: str, event: str,
                          now: datetime, step: Step, *, reported: bool = False) -> None:
            """Carry a joint plan on after one of its steps was answered (PlanSide)."""

    # -- create and page --------------------------------------------------------------

    def _escalate(self, decision: Decision, action: Action, verdict: Verdict | None,
                  severity: int, now: datetime, step: Step, basis: Basis | None = None,
                  esc_id: str | None = None, note: str = "") -> str:
        """Open an escalation for `action`, page the first step that has someone; its id."""
        org = self.e.config.org
        approver = (verdict.approver if verdict else None) or "oncall"
        ids = list(verdict.policy_ids) if verdict else []
        separation, fallback = rules.policy_terms(
            self.e.book.info[p] for p in ids if p in self.e.book.info)
        raised = basis.situation.facts.get("raised_by") if basis else None
        esc = Escalation(
            id=esc_id or "E" + decision.id[1:], decision=decision.id, created=now, deadline=now,
            approver=approver, action=action.model_dump(mode="json"), domain=decision.domain,
            situation=decision.situation, chain=routing.chain_for(org, approver,
                                                                  decision.domain),
            severity=severity, owner_team=routing.owning_team(org, action.resource,
                                                              decision.domain),
            raised_by=raised if isinstance(raised, str) and raised in org.person else None,
            separation=separation, fallback=fallback, policy_ids=ids, note=note)
        if not self._page(esc, 0, now):
            # Nobody in the chain may answer: the last step waits with nobody paged (an
            # admin may still answer), then the fallback applies.
            esc.history.pop()  # its "skipped" entry; the waiting step replaces it
            self._set_step(esc, len(esc.chain) - 1, now, routing.Page(
                esc.chain[-1], [], [], "nobody in the chain may answer; admins only"))
        self._note_pages(esc, 0, step)
        self.open[esc.id] = esc
        if basis is not None:
            self.basis[esc.id] = basis
        heapq.heappush(self.deadlines, (esc.deadline, esc.id))
        self.e.stats.escalations += 1
        touch(esc, step)
        return esc.id

    def _page(self, esc: Escalation, start: int, at: datetime) -> bool:
        """Page the first step from `start` on that has someone to page; False if none."""
        org = self.e.config.org
        settings = self.e.config.settings.escalation
        urgent = esc.severity <= settings.urgent_severity
        for level in range(start, len(esc.chain)):
            found = routing.page(org, esc.chain[level], team=esc.owner_team,
                                 domain=esc.domain, at=at, urgent=urgent,
                                 allowed=lambda pid: rules.may_be_paged(org, esc, pid),
                                 role_pages=settings.role_pages)
            if found.candidates:
                self._set_step(esc, level, at, found)
                return True
            esc.history.append({"step": found.step, "level": level, "candidates": [],
                                "paged_at": at.isoformat(), "deadline": None,
                                "off_hours": [], "route": found.route})
        return False

    def _set_step(self, esc: Escalation, level: int, at: datetime, found: routing.Page) -> None:
        esc.level, esc.approver, esc.candidates = level, found.step, list(found.candidates)
        esc.deadline = routing.deadline(self.e.config.settings.escalation.sla_minutes,
                                        esc.severity, at)
        esc.history.append({"step": found.step, "level": level,
                            "candidates": list(found.candidates), "paged_at": at.isoformat(),
                            "deadline": esc.deadline.isoformat(),
                            "off_hours": list(found.off_hours), "route": found.route})
        self.e.stats.messages += len(found.candidates)
        pages = self.e.stats.off_hours_pages
        for pid in found.off_hours:
            pages[pid] = pages.get(pid, 0) + 1

    def note(self, esc: Escalation, at: datetime, step: Step, change: str,
             **fields: Any) -> None:
        """Write one change of an escalation as its own ledger record: a step paged (or
        skipped), the chain expired, the request withdrawn. The escalations table is
        checked against these records (`baton audit verify`)."""
        rid = self.e.ledger.next_id("G", basis=f"{esc.id}\x00{change}")
        body = {"record": "escalation", "id": rid, "escalation": esc.id,
                "decision": esc.decision, "time": at.isoformat(), "change": change, **fields}
        step.ledger.append(self.e.ledger.append(rid, body))

    def _note_pages(self, esc: Escalation, seen: int, step: Step) -> None:
        """Record each step paged since `seen` (an index into the escalation's history)."""
        for entry in esc.history[seen:]:
            self.note(esc, datetime.fromisoformat(entry["paged_at"]), step, "paged",
                      page=dict(entry))

    # -- deadlines --------------------------------------------------------------------

    def expire_escalations(self, now: datetime, step: Step) -> None:
        """Steps past their deadline move up the chain; past the last, the fallback runs."""
        while self.deadlines and self.deadlines[0][0] <= now:
            due, esc_id = heapq.heappop(self.deadlines)
            esc = self.open.get(esc_id)
            if esc is None or esc.deadline != due:
                continue
            self.e.stats.sla_breaches += 1
            before = esc.history[-1] if esc.history else {}
            seen = len(esc.history)
            if not self._page(esc, esc.level + 1, due):
                self._note_pages(esc, seen, step)
                self._fallback(esc, due, step)
                continue
            self._note_pages(esc, seen, step)
            self.e.stats.escalation_steps += 1
            heapq.heappush(self.deadlines, (esc.deadline, esc.id))
            touch(esc, step)
            now_paged = esc.history[-1]
            skipped = [h["step"] for h in esc.history[seen:-1]]
            sla = (esc.deadline - due).total_seconds() / 60.0
            self.record(self._chain_record(
                esc, due, action=esc.action, verdict=None, mode="human",
                outcome=f"escalated to {esc.approver}"[:40],
                rationale=(f"{before.get('step', esc.chain[0])} "
                           f"({', '.join(before.get('candidates', [])) or 'nobody'}) did not "
                           f"answer by {due.isoformat()}; "
                           + (f"skipped {', '.join(skipped)} (nobody may answer); "
                              if skipped else "")
                           + f"paged {', '.join(esc.candidates)} as {esc.approver} "
                           f"[{now_paged['route']}]; {sla:g} min to answer"
                           + (f"; off hours: {', '.join(now_paged['off_hours'])}"
                              if now_paged["off_hours"] else ""))), step)

    def _chain_record(self, esc: Escalation, at: datetime, **kw: Any) -> Decision:
        return Decision(id=self.e.ledger.next_id(basis=esc.id), time=at, event="-",
                        situation=esc.situation, situation_kind="escalation",
                        entity=str(esc.action.get("resource", "")), domain=esc.domain,
                        decided_by="baton", chosen=esc.decision,
                        latency_s=(at - esc.created).total_seconds(), **kw)

    # -- the end of the chain -----------------------------------------------------------

    def judge_action(self, basis: Basis, action: Action,
                     at: datetime) -> tuple[Verdict, dict[str, Any]]:
        """Cedar's verdict on `action` in place of the escalated one, with a fresh context."""
        proposal = basis.proposal.model_copy(update={"action": action})
        ctx = self.context_for(proposal, basis.situation, at)
        (verdict,) = self.e.gate.judge([GateRequest(
            basis.agent, proposal.domain, action.kind, action.resource, action.resource_type,
            ctx)])
        return verdict, ctx

    def _fallback(self, esc: Escalation, at: datetime, step: Step) -> None:
        """Nobody answered the whole chain: reject, or run the policy's safe default."""
        del self.open[esc.id]
        basis = self.basis.pop(esc.id, None)
        self.e.ladder.unanswered(esc.decision)
        self.e.stats.escalations_expired += 1
        self.e.stats.fallbacks += 1
        steps = " -> ".join(dict.fromkeys(h["step"] for h in esc.history)) or esc.approver
        declared = [p for p in esc.policy_ids
                    if p in self.e.book.info and self.e.book.info[p].fallback]
        why = (f"nobody answered any step of the chain ({steps}) by {at.isoformat()}; "
               f"fallback {esc.fallback!r}" + (f" (@fallback of {', '.join(declared)})"
                                               if declared else " (the default)"))
        original = Action.model_validate(esc.action)
        decision = self._chain_record(esc, at, action=esc.action, verdict=None,
                                      mode="fallback", outcome="fallback: rejected",
                                      rationale=f"{why}: {original.kind} on "
                                                f"{original.resource} not executed")
        if esc.fallback.startswith("action:"):
            kind = esc.fallback.removeprefix("action:")
            safe = Action(kind=kind, resource=original.resource,
                          resource_type=original.resource_type,
                          params={"escalation": esc.id, "instead_of": original.kind})
            decision.action = safe.model_dump(mode="json")
            verdict: Verdict | None = None
            if basis is not None:
                verdict, decision.context = self.judge_action(basis, safe, at)
                verdict = cap(verdict, level=self.e.config.settings.autonomy.level(
                    esc.domain, kind), killed=self.killed_scope(esc.domain), amount=safe.amount,
                    budget_left=self.e.budgets.left(esc.domain, at))
                decision.verdict = verdict
            if verdict is not None and verdict.kind is VerdictKind.AUTONOMOUS:
                decision.outcome = "fallback: dispatched"
                self._execute(safe, decision, esc.domain, at, step, basis,
                              outcome=decision.outcome)
                decision.rationale = (f"{why}: {kind} on {original.resource} instead of "
                                      f"{original.kind} ({verdict.reason}): dispatched")
            else:
                need = ("it could not be judged" if verdict is None else
                        f"it is denied itself ({verdict.reason})"
                        if verdict.kind is VerdictKind.DENIED else
                        f"it needs approval itself ({verdict.reason})")
                decision.rationale = (f"{why}: {kind} was not run because {need}; rejected, "
                                      f"{original.kind} on {original.resource} not executed")
        esc.status, esc.resolved_at, esc.resolved_by = "expired", at, "baton"
        esc.resolution = decision.outcome
        touch(esc, step)
        self.note(esc, at, step, "expired", resolution=decision.outcome, by=decision.id)
        self.record(decision, step)
        self.step_resolved(esc.id, "expired", f"nobody answered; {decision.outcome}", "-",
                           at, step)
