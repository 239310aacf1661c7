"""The human side of acting: approvals, rejections, the kill switch, deadlines, incidents."""

from __future__ import annotations

import heapq
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from baton.model import Action, Decision, Escalation, Event
from baton.store.port import Step

if TYPE_CHECKING:
    from baton.engine.coordinate import Incident
    from baton.engine.pipeline import Engine


class HumanSide:
    """Handles control events and escalation deadlines for the Actor."""

    e: Engine
    open: dict[str, Escalation]
    deadlines: list[tuple[datetime, str]]  # a heap; entries of resolved ones are skipped
    killed: dict[str, bool]

    def record(self, decision: Decision, step: Step) -> None:  # provided by Actor
        """Append a decision to the ledger and the step."""
        raise NotImplementedError

    def _execute(self, action: Action, decision: Decision, domain: str, now: datetime,
                 step: Step) -> str:  # provided by Actor
        raise NotImplementedError

    def _human(self, esc: Escalation, event: Event, now: datetime, **kw: Any) -> Decision:
        return Decision(id=self.e.ledger.next_id(), time=now, event=event.key,
                        situation=esc.situation, situation_kind="escalation",
                        entity=str(esc.action.get("resource", "")), domain=esc.domain,
                        latency_s=(now - esc.created).total_seconds(), **kw)

    def control(self, event: Event, now: datetime, step: Step) -> None:
        """Apply an approval, rejection or kill-switch command from the log."""
        if event.type == "baton.kill_switch":
            self._kill_switch(event, now, step)
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
                id=self.e.ledger.next_id(), time=now, event=event.key, situation="-",
                situation_kind="escalation", entity=esc_id, domain="-", decided_by=by,
                chosen=None, action=None, verdict=None, outcome="refused",
                rationale=refusal or ""), step)
            return
        del self.open[esc_id]
        approve = event.type == "baton.approve"
        decision = self._human(esc, event, now, decided_by=by, chosen=esc.decision,
                               action=esc.action, verdict=None, mode="human",
                               outcome="", rationale=comment or
                               ("approved" if approve else "rejected"))
        if approve:
            action = Action.model_validate(esc.action)
            decision.outcome = "approved; " + self._execute(action, decision, esc.domain,
                                                            now, step)
        else:
            decision.outcome = "rejected"
        esc.status = "approved" if approve else "rejected"
        esc.resolved_by, esc.resolved_at, esc.comment = by, now, comment
        step.escalations.append(esc)
        self.record(decision, step)

    def _kill_switch(self, event: Event, now: datetime, step: Step) -> None:
        domain = str(event.attrs.get("domain") or "*")
        enabled = bool(event.attrs["enabled"])
        self.killed[domain] = enabled
        step.settings["kill_switch"] = json.dumps(
            {k: v for k, v in sorted(self.killed.items()) if v})
        scope = "global" if domain == "*" else f"domain {domain}"
        self.record(Decision(
            id=self.e.ledger.next_id(), time=now, event=event.key, situation="-",
            situation_kind="kill_switch", entity=scope, domain=domain,
            decided_by=str(event.attrs.get("by", "operator")), chosen=None, action=None,
            verdict=None, mode="human",
            outcome=f"kill switch {'on' if enabled else 'off'} ({scope})",
            rationale=str(event.attrs.get("comment", ""))), step)

    def expire_escalations(self, now: datetime, step: Step) -> None:
        """Escalations past their deadline expire: nothing runs, and it counts as a breach."""
        due: list[Escalation] = []
        while self.deadlines and self.deadlines[0][0] <= now:
            _, esc_id = heapq.heappop(self.deadlines)
            if esc_id in self.open:
                due.append(self.open.pop(esc_id))
        for esc in sorted(due, key=lambda x: (x.deadline, x.id)):
            esc.status = "expired"
            esc.resolved_at = esc.deadline
            step.escalations.append(esc)
            self.e.stats.escalations_expired += 1
            self.e.stats.sla_breaches += 1
            self.record(Decision(
                id=self.e.ledger.next_id(), time=esc.deadline, event="-",
                situation=esc.situation, situation_kind="escalation",
                entity=str(esc.action.get("resource", "")), domain=esc.domain,
                decided_by="baton", chosen=esc.decision, action=esc.action, verdict=None,
                mode="human", outcome="expired",
                rationale=f"nobody answered by {esc.deadline.isoformat()}; not executed",
                latency_s=(esc.deadline - esc.created).total_seconds()), step)

    def incident_closed(self, incident: Incident) -> None:
        """Count a closed incident's time to resolve."""
        if incident.resolved is not None:
            minutes = (incident.resolved - incident.opened).total_seconds() / 60.0
            self.e.stats.ttr_minutes.append(minutes)
