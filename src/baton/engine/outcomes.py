"""Outcomes: what became of each executed decision, judged from the events after it.

A watch opens when a decision's action is dispatched and stays open for the effect
window after its result came back. What ends it:

- the action's result failed (or is unknown)          -> failed
- a person reverted it (an `action.reverted` event)    -> reverted
- another decision acted on the same entity first      -> superseded
- the situation came back after it had cleared, a more
  severe one arose on the entity, or an SLA on it broke -> worse
- the window ended after a clearing event (one of `autonomy.ladder.clears`, or a new
  reading of what raised the situation that no longer raises it: the metric back
  within its bound, a compliant change, the SLA timer's stop event)  -> resolved
- the window ended with no clearing event               -> no_effect

Everything here is a function of the log in order, so replay and recovery give the same
outcomes at the same points.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta

from baton.config import Ladder
from baton.model import Event, Situation


@dataclass
class Watch:
    """One executed decision whose outcome is not known yet."""

    decision: str
    cls: str
    entity: str
    kind: str  # the situation kind
    severity: int
    decided: datetime
    deadline: datetime
    executed: bool = False
    cleared: datetime | None = None
    cleared_by: str = ""
    approved_by: str | None = None
    changed: bool = False


@dataclass(frozen=True)
class Ended:
    """A watch's outcome, with the event or reason that settled it."""

    watch: Watch
    outcome: str
    evidence: str
    judged: bool = True  # counts for the circuit breaker (not when Baton itself crashed)


class Watches:
    """The open watches, by decision and by entity, with their deadlines."""

    def __init__(self) -> None:
        self.open: dict[str, Watch] = {}
        self.heap: list[tuple[datetime, str]] = []
        self.by_entity: dict[str, list[str]] = {}  # entity -> its open watches, in order

    def start(self, watch: Watch) -> None:
        """Watch a dispatched decision."""
        self.open[watch.decision] = watch
        self.by_entity.setdefault(watch.entity, []).append(watch.decision)
        heapq.heappush(self.heap, (watch.deadline, watch.decision))

    def _end(self, w: Watch, outcome: str, evidence: str) -> Ended:
        del self.open[w.decision]
        on = self.by_entity[w.entity]
        on.remove(w.decision)
        if not on:
            del self.by_entity[w.entity]
        return Ended(w, outcome, evidence)

    def next_due(self) -> datetime | None:
        """When the earliest open window ends."""
        while self.heap and (self.heap[0][1] not in self.open
                             or self.open[self.heap[0][1]].deadline != self.heap[0][0]):
            heapq.heappop(self.heap)
        return self.heap[0][0] if self.heap else None

    def due(self, now: datetime) -> list[Ended]:
        """The watches whose window ended by `now`: resolved if cleared, else no effect."""
        out: list[Ended] = []
        while (at := self.next_due()) is not None and at <= now:
            _, did = heapq.heappop(self.heap)
            w = self.open[did]
            if w.cleared is not None:
                out.append(self._end(w, "resolved", w.cleared_by))
            else:
                out.append(self._end(w, "no_effect", "the effect window ended with no "
                                                     "clearing event"))
        return out

    def result(self, decision: str, ok: bool, status: str, detail: str, now: datetime,
               rules: Ladder) -> Ended | None:
        """The action's result came back: a failure ends the watch; success starts the
        effect window."""
        w = self.open.get(decision)
        if w is None:
            return None
        if not ok:
            end = self._end(w, "failed", f"result {status}: {detail[:200]}")
            if status == "unknown":  # interrupted by a crash: not the class's failure
                return Ended(w, "failed", end.evidence, judged=False)
            return end
        w.executed = True
        w.deadline = max(w.deadline, now + timedelta(minutes=rules.effect_window_minutes))
        heapq.heappush(self.heap, (w.deadline, w.decision))
        return None

    def _on(self, entity: str) -> list[Watch]:
        return [self.open[d] for d in self.by_entity.get(entity, ())]

    def event(self, event: Event, now: datetime, rules: Ladder, breached: list[str],
              readers: dict[str, list[tuple[str, str | None]]],
              raised: set[str]) -> list[Ended]:
        """Clearing events, a person's revert, an SLA breach on a watched entity.

        `readers` maps a situation kind to the (event type, metric) its detectors read;
        `raised` holds the situation kinds this event raised on its entity."""
        out: list[Ended] = []
        if event.type in rules.reverts:
            named = str(event.attrs.get("decision", ""))
            for w in list(self.open.values()):
                if w.decision == named or (not named and w.entity == event.entity):
                    out.append(self._end(w, "reverted", f"{event.key}: reverted by "
                                                        f"{event.attrs.get('by')}"))
        elif event.type in rules.clears:
            for w in self._on(event.entity):
                if w.cleared is None:
                    w.cleared, w.cleared_by = now, f"{event.key}: {event.type}"
        else:
            metric = event.attrs.get("metric")
            for w in self._on(event.entity):
                if w.cleared is None and w.kind not in raised and any(
                        t == event.type and (m is None or m == metric)
                        for t, m in readers.get(w.kind, ())):
                    w.cleared = now
                    w.cleared_by = f"{event.key}: {event.type} no longer raises {w.kind}"
        for entity in breached:
            for w in self._on(entity):
                out.append(self._end(w, "worse", f"{event.key}: an SLA on {entity} broke"))
        return out

    def situation(self, s: Situation) -> list[Ended]:
        """A new situation on a watched entity: the same one again after it cleared (a
        reopened incident) or a more severe one is worse."""
        out: list[Ended] = []
        for w in self._on(s.entity):
            if w.cleared is not None and s.kind == w.kind:
                out.append(self._end(w, "worse", f"{s.id}: {s.kind} on {s.entity} came "
                                                 "back after it had cleared"))
            elif s.severity < w.severity:
                out.append(self._end(w, "worse", f"{s.id}: {s.kind} on {s.entity} is more "
                                                 f"severe ({s.severity} < {w.severity})"))
        return out

    def acted(self, decision: str, entity: str) -> list[Ended]:
        """Another decision acted on the entity before this one's outcome was known."""
        return [self._end(w, "superseded", f"{decision} acted on {entity}")
                for w in self._on(entity) if w.decision != decision and w.cleared is None]
