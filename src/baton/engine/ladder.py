"""The live autonomy ladder: observe -> shadow -> approve -> autonomous per decision class.

A class is the domain, situation kind and action kind of a decision (or the parts
`autonomy.granularity` names), written "reliability/service_down/restart". Its level
changes at run time only through `baton.autonomy` control events in the log, so live
runs, recovery and replay agree: narrowing takes one person, widening two (the proposer
and an admin who is someone else). The ladder also keeps each class's track record,
judges each executed decision's outcome (baton.engine.outcomes) and, as a circuit
breaker, drops a class one level when its recent failure or override rate passes the
threshold. Every change and every outcome is a ledger record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from baton.config import LEVELS
from baton.engine.outcomes import Ended, Watch, Watches
from baton.engine.track import BAD, Track, wilson
from baton.model import Decision, Escalation, Event, Situation
from baton.store.port import Step

if TYPE_CHECKING:
    from baton.engine.pipeline import Engine

PARTS = {"domain": 0, "situation": 1, "action": 2}


@dataclass(frozen=True)
class Widening:
    """A proposal to widen a class, waiting for an admin who is not its proposer."""

    cls: str
    level: str
    by: str
    reason: str
    at: str
    event: str


class Ladder:
    """Per-class levels, proposals, track records and outcome watches (engine state)."""

    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self.levels: dict[str, str] = dict(engine.config.settings.autonomy.classes)
        self.pending: dict[str, Widening] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.tracks: dict[str, Track] = {}
        self.watches = Watches()
        self.escalated: dict[str, tuple[str, datetime]] = {}  # decision -> class, when
        self.notices: list[dict[str, Any]] = []  # owners told of a demotion
        # situation kind -> (event type, metric) whose new reading can show it cleared
        self.readers: dict[str, list[tuple[str, str | None]]] = {}
        for d in engine.config.settings.detectors:
            if d.kind in ("threshold", "rate_of_change", "anomaly", "compliance"):
                self.readers.setdefault(d.situation, []).append(
                    (d.event, getattr(d, "metric", None)))
            elif d.kind == "sla_timer":
                self.readers.setdefault(d.situation, []).append((d.stop, None))

    # -- classes and levels -------------------------------------------------------------

    def class_of(self, domain: str, situation: str, action: str) -> str:
        """The class key of a decision under the configured granularity."""
        values = (domain, situation, action)
        parts = self.e.config.settings.autonomy.granularity
        return "/".join(values[PARTS[p]] for p in parts)

    def _parts(self, cls: str) -> dict[str, str]:
        parts = self.e.config.settings.autonomy.granularity
        return dict(zip(parts, cls.split("/"), strict=True))

    def base_level(self, cls: str) -> str:
        """The configured level of a class (before the ladder changed it)."""
        parts = self._parts(cls)
        return self.e.config.settings.autonomy.level(parts.get("domain", ""),
                                                     parts.get("action", ""))

    def level_of(self, cls: str) -> str:
        """The level in force for a class."""
        return self.levels.get(cls) or self.base_level(cls)

    def override(self, domain: str, situation: str, action: str) -> str | None:
        """The ladder's level for this decision's class, None when it has none."""
        return self.levels.get(self.class_of(domain, situation, action))

    def track(self, cls: str) -> Track:
        """The track record of a class (created on first use)."""
        found = self.tracks.get(cls)
        if found is None:
            found = self.tracks[cls] = Track()
        return found

    def problem(self, cls: str, level: str) -> str | None:
        """Why `cls` or `level` is not valid here, else None."""
        parts = self.e.config.settings.autonomy.granularity
        if level not in LEVELS:
            return f"unknown level {level!r} (known: {', '.join(LEVELS)})"
        values = cls.split("/")
        if len(values) != len(parts) or not all(values):
            return (f"class {cls!r} must have the form {'/'.join(parts)} "
                    "(autonomy.granularity)")
        domain = dict(zip(parts, values, strict=True)).get("domain")
        if domain is not None and domain not in self.e.config.org.domain:
            return (f"class {cls!r}: {domain!r} is not a domain of the organisation "
                    f"(known: {', '.join(sorted(self.e.config.org.domain))})")
        return None

    # -- control events -------------------------------------------------------------------

    def control(self, event: Event, now: datetime, step: Step) -> None:
        """Apply a `baton.autonomy` event: set (narrow now, or propose a widening) or
        approve a proposed widening; a refusal is recorded and changes nothing."""
        a = event.attrs
        cls, level, by = str(a["class"]), str(a["level"]), str(a["by"])
        reason = str(a.get("reason", ""))
        approve = bool(a.get("approve"))
        org = self.e.config.org
        refusal = self.problem(cls, level)
        if refusal is None and by not in org.person:
            refusal = f"{by!r} is not a person of the organisation"
        before = self.level_of(cls) if refusal is None else "?"
        if refusal is not None:
            self._record(event, now, step, cls, by, "autonomy change refused",
                         f"refused, nothing changed: {refusal}", {"class": cls, "to": level})
            return
        pending = self.pending.get(cls)
        if approve:
            if pending is None or pending.level != level:
                why = (f"no widening of {cls} to {level} is proposed" if pending is None else
                       f"the widening proposed for {cls} is to {pending.level}, not {level}")
            elif org.person[by].access != "admin":
                why = f"{by} is not an admin; only an admin may approve a widening"
            elif by == pending.by:
                why = f"{by} proposed this widening; another person must approve it"
            else:
                why = ""
            if why or pending is None:
                self._record(event, now, step, cls, by, "autonomy change refused",
                             f"refused, nothing changed: {why}",
                             {"class": cls, "from": before, "to": level})
                return
            del self.pending[cls]
            self._apply(event, now, step, cls, before, level, by, reason or pending.reason,
                        proposed_by=pending.by)
            return
        if LEVELS.index(level) > LEVELS.index(before):
            self.pending[cls] = Widening(cls, level, by, reason, now.isoformat(), event.key)
            self._record(event, now, step, cls, by, "autonomy widening proposed",
                         f"{before} -> {level} proposed by {by}; needs an admin other than "
                         f"{by} to approve" + (f"; {reason}" if reason else ""),
                         {"class": cls, "from": before, "to": level, "proposed_by": by})
            return
        self.pending.pop(cls, None)  # narrowing overrules a widening in waiting
        self._apply(event, now, step, cls, before, level, by, reason, proposed_by=by)

    def _apply(self, event: Event, now: datetime, step: Step, cls: str, before: str,
               level: str, by: str, reason: str, *, proposed_by: str,
               outcome: str | None = None, extra: dict[str, Any] | None = None) -> Decision:
        self.levels[cls] = level
        rank = LEVELS.index(level) - LEVELS.index(before)
        word = outcome or ("autonomy widened" if rank > 0 else
                           "autonomy narrowed" if rank < 0 else "autonomy unchanged")
        entry = {"time": now.isoformat(), "from": before, "to": level, "by": by,
                 "proposed_by": proposed_by, "reason": reason, "change": word}
        self.history.setdefault(cls, []).append(entry)
        step.settings["autonomy"] = json.dumps(dict(sorted(self.levels.items())))
        return self._record(event, now, step, cls, by, word, f"{cls}: {before} -> {level}"
                     + (f"; {reason}" if reason else ""),
                     {"class": cls, "from": before, "to": level, "proposed_by": proposed_by,
                      "approved_by": by if proposed_by != by else None, **(extra or {})})

    def _record(self, event: Event, now: datetime, step: Step, cls: str, by: str,
                outcome: str, rationale: str, context: dict[str, Any]) -> Decision:
        parts = self.e.config.settings.autonomy.granularity
        values = cls.split("/")
        domain = dict(zip(parts, values, strict=True)).get("domain", "*") \
            if len(values) == len(parts) else "*"
        decision = Decision(
            id=self.e.ledger.next_id(basis=f"autonomy:{cls}"), time=now, event=event.key,
            situation="-", situation_kind="autonomy", entity=cls, domain=domain,
            decided_by=by, chosen=None, action=None, verdict=None,
            mode="human" if by != "baton" else "autonomous", outcome=outcome,
            rationale=rationale, context=context)
        self.e.actor.record(decision, step)
        return decision

    # -- what decisions do ------------------------------------------------------------

    def decided(self, decision: Decision, cls: str, mode: str, situation: Situation,
                now: datetime, step: Step) -> None:
        """A decision chose an action: count it, and watch it when it was dispatched."""
        t = self.track(cls)
        t.decisions += 1
        t.modes[mode] += 1
        if decision.outcome == "escalated":
            self.escalated[decision.id] = (cls, now)
        elif decision.outcome == "dispatched":
            t.autonomous_latency_s += decision.latency_s
            self._settle(self.watches.acted(decision.id, decision.entity), now, step)
            self._watch(decision.id, cls, situation, now)

    def _watch(self, decision: str, cls: str, s: Situation, now: datetime, *,
               approved_by: str | None = None, changed: bool = False) -> None:
        window = timedelta(minutes=self.e.config.settings.autonomy.ladder
                           .effect_window_minutes)
        self.watches.start(Watch(decision, cls, s.entity, s.kind, s.severity, now,
                                 now + window, approved_by=approved_by, changed=changed))

    def answered(self, esc: Escalation, decision: Decision, approved: bool, changed: bool,
                 situation: Situation | None, now: datetime, step: Step) -> None:
        """A person answered an escalation of a watched class."""
        found = self.escalated.pop(esc.decision, None)
        if found is None:
            return
        cls, since = found
        t = self.track(cls)
        t.answered += 1
        t.approval_wait_s += (now - since).total_seconds()
        if approved:
            t.approved += 1
            t.changed += changed
            if situation is not None:
                self._settle(self.watches.acted(decision.id, situation.entity), now, step)
                self._watch(decision.id, cls, situation, now, approved_by=decision.decided_by,
                            changed=changed)
        else:
            t.rejected += 1
        self._judge(cls, not approved or changed, now, step, event=decision.event)

    def unanswered(self, decision: str) -> None:
        """Nobody answered a class's escalation before its chain ran out."""
        found = self.escalated.pop(decision, None)
        if found is not None:
            self.track(found[0]).unanswered += 1

    def result(self, decision: str, ok: bool, status: str, detail: str, now: datetime,
               step: Step) -> None:
        """An action's result came back."""
        ended = self.watches.result(decision, ok, status, detail, now,
                                    self.e.config.settings.autonomy.ladder)
        if ended is not None:
            self._settle([ended], now, step)

    def observe(self, event: Event, situations: list[Situation], breached: list[str],
                now: datetime, step: Step) -> None:
        """One outside event (and what it raised): clears, reverts, breaches, reopenings."""
        if not self.watches.open:
            return
        rules = self.e.config.settings.autonomy.ladder
        raised = {s.kind for s in situations if s.entity == event.entity}
        ended = self.watches.event(event, now, rules, breached, self.readers, raised)
        for s in situations:
            ended += self.watches.situation(s)
        self._settle(ended, now, step)

    def tick(self, now: datetime, step: Step) -> None:
        """Close the effect windows that ended by `now`."""
        if self.watches.heap:
            self._settle(self.watches.due(now), now, step)

    def next_due(self) -> datetime | None:
        """When the next effect window ends."""
        return self.watches.next_due()

    # -- outcomes and the breaker -------------------------------------------------------

    def _settle(self, ended: list[Ended], now: datetime, step: Step) -> None:
        for end in ended:
            w = end.watch
            t = self.track(w.cls)
            t.outcomes[end.outcome] += 1
            effect = None
            if end.outcome == "resolved" and w.cleared is not None:
                effect = (w.cleared - w.decided).total_seconds()
                t.effect_s += effect
            rid = self.e.ledger.next_id("O", basis=w.decision)
            body = {"record": "outcome", "id": rid, "decision": w.decision, "class": w.cls,
                    "outcome": end.outcome, "evidence": end.evidence[:300],
                    "decided": w.decided.isoformat(), "time": now.isoformat(),
                    "time_to_effect_s": effect, "approved_by": w.approved_by,
                    "changed": w.changed}
            step.ledger.append(self.e.ledger.append(rid, body))
            if end.outcome != "superseded" and end.judged:
                self._judge(w.cls, end.outcome in BAD, now, step, event=end.evidence)

    def _judge(self, cls: str, bad: bool, now: datetime, step: Step, *, event: str) -> None:
        """Add a result to the breaker's window; trip it when the rate passes the bar."""
        rules = self.e.config.settings.autonomy.ladder
        t = self.track(cls)
        t.note(bad, rules.breaker_window)
        rate = t.recent_rate()
        level = self.level_of(cls)
        if not bad or len(t.recent) < rules.breaker_min or rate < rules.breaker_rate \
                or level == "observe":
            return
        lower = LEVELS[LEVELS.index(level) - 1]
        domain = self._parts(cls).get("domain")
        owner = self.e.config.org.domain[domain].owner if domain in self.e.config.org.domain \
            else None
        notice = {"time": now.isoformat(), "class": cls, "from": level, "to": lower,
                  "owner": owner, "rate": round(rate, 4), "window": len(t.recent)}
        self.notices.append(notice)
        self.pending.pop(cls, None)
        t.recent.clear()  # fresh evidence at the lower level; a person widens it again
        cause = Event.model_construct(key=self.e.ledger.cause, type="baton.autonomy",
                                      entity=cls, time=now, attrs={}, source="")
        told = owner if owner and rules.notify_action else None
        decision = self._apply(
            cause, now, step, cls, level, lower, "baton",
            f"circuit breaker: failure/override rate {rate:.0%} over the last "
            f"{notice['window']} >= {rules.breaker_rate:.0%} (after {event[:80]}); "
            f"owner {owner or '-'} {'notified' if told else 'not notified'}; a person must "
            "widen it again", proposed_by="baton", outcome="autonomy demoted",
            extra={"owner": owner, "notified": told, "rate": round(rate, 4)})
        if told and rules.notify_action:
            self.e.actor.notify(decision, rules.notify_action, told, {
                "class": cls, "from": level, "to": lower, "rate": round(rate, 4),
                "why": "circuit breaker: a person must widen it again"}, now, step)

    # -- reading ------------------------------------------------------------------------

    def recommendation(self, cls: str) -> dict[str, Any] | None:
        """A promotion the evidence supports for a class in shadow or approve, or None."""
        rules = self.e.config.settings.autonomy.ladder
        level = self.level_of(cls)
        if level not in ("shadow", "approve") or cls in self.pending:
            return None
        t = self.track(cls)
        if level == "approve":
            n, ok, basis = t.answered, t.approved - t.changed, "approved unchanged by people"
        else:
            n = sum(t.outcomes[k] for k in t.outcomes if k != "superseded")
            ok, basis = t.outcomes["resolved"], "resolved"
        if n < rules.promote_min:
            return None
        low, _ = wilson(ok, n)
        if low < rules.promote_lower:
            return None
        return {"to": LEVELS[LEVELS.index(level) + 1], "evidence": n, "successes": ok,
                "basis": basis, "wilson_lower": round(low, 4),
                "threshold": rules.promote_lower}

    def status(self) -> dict[str, Any]:
        """Every known class: level, track record, proposal, recommendation, history."""
        minutes = self.e.config.settings.autonomy.ladder.approval_minutes
        names = sorted(set(self.tracks) | set(self.levels) | set(self.pending))
        classes = []
        for cls in names:
            p = self.pending.get(cls)
            classes.append({
                "class": cls, "level": self.level_of(cls), "configured": self.base_level(cls),
                **self.track(cls).summary(minutes),
                "pending": None if p is None else {"level": p.level, "by": p.by,
                                                   "reason": p.reason, "at": p.at},
                "recommendation": self.recommendation(cls),
                "history": list(self.history.get(cls, []))})
        value = {"person_minutes_saved": round(sum(c["person_minutes_saved"]
                                                   for c in classes), 1),
                 "approval_person_minutes": round(sum(c["approval_person_minutes"]
                                                      for c in classes), 1),
                 "autonomous": sum(c["modes"].get("autonomous", 0) for c in classes),
                 "approve": sum(c["modes"].get("approve", 0) for c in classes)}
        return {"granularity": list(self.e.config.settings.autonomy.granularity),
                "classes": classes, "value": value, "notices": list(self.notices)}
