"""The AI-led model: the real engine on the virtual clock; people answer its escalations."""

# People answering escalations use the same response-time model as the hierarchy.

from __future__ import annotations

import math
import random
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from baton.config import Config
from baton.connectors import build_connectors
from baton.engine.pipeline import Engine
from baton.ledger.chain import verify
from baton.model import Escalation, Event
from baton.sim.measure import Outcome
from baton.sim.memstore import MemoryStore
from baton.sim.params import SimParams
from baton.sim.people import People
from baton.sim.workload import Case, Workload

Proc = Generator[simpy.Event, Any, Any]


@dataclass
class AiResult:
    """The outcomes, the engine's own work, and whether its ledger verifies."""

    outcomes: list[Outcome]
    cpu_ms: float
    decisions: int
    escalations: int
    ledger_rows: int
    ledger_verified: bool
    ledger_head: str


class AiModel:
    """Drives the engine through simulated time; spawns a person per escalation step."""

    def __init__(self, config: Config, params: SimParams, workload: Workload, *, seed: int,
                 drain_days: float, tick_minutes: float = 5.0) -> None:
        self.config, self.params, self.work, self.seed = config, params, workload, seed
        self.store = MemoryStore()
        self.engine = Engine(config, store=self.store,
                             connectors=build_connectors(config, store=self.store))
        self.env = simpy.Environment()
        self.people = People(self.env, config.org, params, workload.origin)
        self.urgent = config.settings.escalation.urgent_severity
        self.horizon = (workload.days + drain_days) * 1440.0
        self.tick = tick_minutes
        self.paged: set[tuple[str, int]] = set()
        self.answer_minutes: dict[str, float] = {}
        self.cpu = 0.0

    def run(self) -> AiResult:
        """Feed the workload, answer escalations, then read the outcomes from the ledger."""
        self.env.process(self._feeder())
        self.env.process(self._ticker())
        self.env.run(until=self.horizon)
        check = verify(self.store.ledger_rows())
        return AiResult(self._outcomes(), self.cpu * 1000.0, self.engine.stats.decisions,
                        self.engine.stats.escalations, check.rows, check.ok, check.head)

    def _step(self, events: list[Event]) -> None:
        started = time.process_time()
        self.engine.ingest(events)
        self.engine.process_pending()
        self.cpu += time.process_time() - started
        for esc in list(self.engine.actor.open.values()):
            key = (esc.id, esc.level)
            if key not in self.paged and esc.candidates:
                self.paged.add(key)
                self.env.process(self._answer(esc))

    def _feeder(self) -> Proc:
        batches: dict[int, list[Event]] = {}
        for e in self.work.events:
            minute = (e.time - self.work.origin).total_seconds() / 60.0
            batches.setdefault(max(0, math.ceil(minute)), []).append(e)
        for minute in sorted(batches):
            if minute > self.env.now:
                yield self.env.timeout(minute - self.env.now)
            self._step(batches[minute])

    def _ticker(self) -> Proc:
        """A clock tick while anything waits on time: open escalations or SLA timers."""
        n = 0
        engine = self.engine
        while self.env.now + self.tick < self.horizon:
            yield self.env.timeout(self.tick)
            now = self.people.at(self.env.now)
            if not engine.actor.open and not (engine.monitor.timers and
                                              engine.monitor.timers[0][0] <= now):
                continue
            n += 1
            self._step([Event(key=f"tick:{n}", type="baton.tick", entity="clock",
                              time=self.people.at(self.env.now), source="baton-sim")])

    def _answer(self, esc: Escalation) -> Proc:
        """One paged person answers when they can; the answer lands at the next minute."""
        # Approve, or with the decision variability reject.
        rng = random.Random(f"{self.seed}:ai:{esc.id}:{esc.level}")
        urgent = esc.severity <= self.urgent
        who = self.people.first_working(list(esc.candidates))
        yield from self.people.reach(who, urgent, rng)
        spent = yield from self.people.decide(who, urgent, esc.severity, rng)
        self.answer_minutes[esc.id] = self.answer_minutes.get(esc.id, 0.0) + spent
        yield self.env.timeout(math.ceil(self.env.now) - self.env.now)
        if esc.id not in self.engine.actor.open:
            return  # answered at another step, or the chain ran out first
        approve = rng.random() >= self.params.p("decision_variability")
        self._step([Event(
            key=f"answer:{esc.id}:{esc.level}", type="baton.approve" if approve
            else "baton.reject", entity=esc.id, time=self.people.at(self.env.now),
            source="baton-sim", attrs={"escalation": esc.id, "by": who,
                                       "comment": "approved" if approve else "rejected"})])

    def _outcomes(self) -> list[Outcome]:
        first: dict[str, dict[str, Any]] = {}
        for d in self.store.all_decisions():
            if d["situation_kind"] != "escalation":
                first.setdefault(d["situation"], d)
        escalations = {e.decision: e for e in self.store.escalations()}
        queued = {k for k, v in self.config.settings.connectors.routes.items() if v == "queue"}
        return [self._outcome(c, first.get(c.id), escalations, queued) for c in self.work.cases]

    def _outcome(self, c: Case, d: dict[str, Any] | None, escalations: dict[str, Escalation],
                 queued: set[str]) -> Outcome:
        s = c.situation
        if d is None:  # the coordinator suppressed it as a repeat of a decided situation
            return Outcome(c.id, s.kind, s.severity, c.minute, 0.0, "duplicate", False,
                           signature=c.signature)
        engine_min = float(d.get("engine_ms", 0.0)) / 60000.0
        latency: float | None = float(d["latency_s"]) / 60.0 + engine_min
        outcome = str(d["outcome"])
        action = (d.get("action") or {}).get("kind", "none")
        messages, minutes, escalated, expired = 0.0, 0.0, False, False
        decided_by = str(d.get("decided_by", ""))
        if outcome == "escalated":
            esc = escalations[d["id"]]
            escalated = True
            messages = float(sum(len(h.get("candidates", [])) for h in esc.history))
            minutes = self.answer_minutes.get(esc.id, 0.0)
            decided_by = esc.resolved_by or ""
            if esc.resolved_at is None:
                latency, action = None, "none"
            else:
                latency = (esc.resolved_at - s.time).total_seconds() / 60.0 + engine_min
                if esc.status == "approved":
                    messages += 1
                elif esc.status == "rejected":
                    messages, action = messages + 1, "none"
                else:
                    expired = True
                    action = (esc.fallback.removeprefix("action:")
                              if esc.resolution == "fallback: executed" else "none")
        elif outcome == "correlated":
            action = "correlate"
        elif not outcome.startswith("executed"):
            action = "none"
        if action in queued:
            messages += 1  # a work item lands with a team
        return Outcome(c.id, s.kind, s.severity, c.minute, latency, action, escalated,
                       messages, minutes, c.signature, expired, decided_by)

