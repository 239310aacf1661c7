"""The engine: one event through ingest -> monitor -> decide -> coordinate -> govern ->
execute -> record. No I/O of its own: storage, connectors and the clock are ports."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime

from baton.config import Config
from baton.engine.act import Actor
from baton.engine.clock import VirtualClock
from baton.engine.context import Budgets
from baton.engine.coordinate import Coordinator
from baton.engine.decide import Agent, Observer, PlaybookAgent
from baton.engine.dispatch import Dispatcher
from baton.engine.monitor import Monitor
from baton.engine.picture import Picture
from baton.engine.stats import Stats
from baton.execution.executor import Executor
from baton.execution.port import Connector
from baton.governance.gate import Gate, entities_for
from baton.governance.policies import PolicyBook
from baton.ledger.writer import LedgerWriter
from baton.model import Event
from baton.model.events import EVENT_TYPES, check_type
from baton.org.graph import ServiceGraph
from baton.store.port import Step, Store


class Engine:
    """Processes the event log in order; the same log and config give the same decisions."""

    def __init__(self, config: Config, *, store: Store, connectors: Mapping[str, Connector],
                 agents: list[Agent] | None = None) -> None:
        self.config = config
        self.store = store
        settings, org = config.settings, config.org
        self.event_types = dict(EVENT_TYPES)
        self.event_types.update({k: tuple(v) for k, v in settings.event_types.items()})
        self.agents: list[Agent] = agents if agents is not None else [
            PlaybookAgent(a) for a in config.playbooks.agents]
        self.observers: list[Observer] = [a for a in self.agents  # type: ignore[misc]
                                          if callable(getattr(a, "observe", None))]
        self.graph = ServiceGraph(org.services)
        self.monitor = Monitor(settings.detectors, org)
        self.coordinator = Coordinator(self.graph, settings.coordination)
        self.book = PolicyBook(config.policies)
        self.gate = Gate(self.book, entities_for(org, {a.id: a.domain for a in self.agents}))
        self.executor = Executor(settings.connectors, connectors, store)
        self.clock: VirtualClock | None = None
        self.stats = Stats()
        self.budgets = Budgets(org)
        self.objectives = settings.objectives  # changed at run time by baton.objectives
        self.picture = Picture(org, self.budgets)
        for agent in self.agents:  # agents that want the shared picture get it
            see = getattr(agent, "see", None)
            if callable(see):
                see(self.picture)
        seq, head = store.ledger_head()
        self.ledger = LedgerWriter(seq, head)
        self._stored_head = (seq, head)
        self._recovered = seq == 0
        self.actor = Actor(self)
        self.dispatcher = Dispatcher(self) if settings.coordination.dispatch else None
        self.last_seq = 0

    @property
    def recovered(self) -> bool:
        """True once in-memory state has been rebuilt from the processed events."""
        return self._recovered

    def now(self) -> datetime:
        """Engine time: the time of the latest event processed."""
        if self.clock is None:
            raise RuntimeError("the engine has processed no event yet")
        return self.clock.now()

    def validate(self, event: Event, where: str) -> None:
        """Raise InputError when the event's type or attributes are unknown."""
        check_type(event, self.event_types, where)

    def ingest(self, events: list[Event]) -> list[bool]:
        """Validate and durably accept events; per event, False for a duplicate key."""
        for i, e in enumerate(events):
            self.validate(e, f"event {i + 1}")
        return self.store.append_events(events)

    def recover(self) -> int:
        """Rebuild in-memory state by replaying every processed event, acting on nothing."""
        stored_seq, stored_head = self._stored_head
        self._recovered = True
        self.ledger = LedgerWriter(0, "0" * 64)
        self.executor.replaying = True
        count = 0
        try:
            after = 0
            while True:
                chunk = self.store.events(after=after, processed=True, limit=2000)
                if not chunk:
                    break
                scratch = Step()
                for seq, event in chunk:
                    self._handle(seq, event, scratch)
                    count += 1
                after = chunk[-1][0]
        finally:
            self.executor.replaying = False
        if (self.ledger.seq, self.ledger.head) != (stored_seq, stored_head):
            # The configuration changed since those decisions were made; carry on from
            # the stored chain so the ledger stays one verifiable sequence.
            self.ledger = LedgerWriter(stored_seq, stored_head)
        return count

    def process_pending(self, *, batch: int = 500, limit: int | None = None) -> int:
        """Process accepted events not yet processed, committing each batch atomically."""
        if not self._recovered:
            self.recover()
        done = 0
        while limit is None or done < limit:
            size = batch if limit is None else min(batch, limit - done)
            chunk = self.store.events(after=self.last_seq, processed=False, limit=size)
            if not chunk:
                break
            step = Step()
            for seq, event in chunk:
                self._handle(seq, event, step)
                step.processed.append(seq)
            self.store.commit(step)
            done += len(chunk)
        return done

    def _handle(self, seq: int, event: Event, step: Step) -> None:
        started = time.perf_counter()
        self.last_seq = max(self.last_seq, seq)
        if self.clock is None:
            self.clock = VirtualClock(event.time)
        self.clock.advance_to(event.time)
        now = self.clock.now()
        self.actor.begin(started)
        situations = self.monitor.due(now)
        self.actor.expire_escalations(now, step)
        for incident in self.coordinator.sweep(now):
            self.actor.incident_closed(incident)
        if event.is_control:
            self.stats.control_events += 1
            self.actor.control(event, now, step)
        else:
            self.stats.events += 1
            self.picture.observe(event)
            for observer in self.observers:
                observer.observe(event)
            situations += self.monitor.observe(event)
            if event.type == "action.result":
                self.actor.action_result(event, now, step)
            if event.type == "service.recovered":
                resolved = self.coordinator.resolve(event.entity, now)
                if resolved is not None:
                    self.actor.incident_closed(resolved)
        self.stats.sla_breaches += self.monitor.take_breaches()
        if situations:
            self.stats.situations += len(situations)
            self.actor.decide(situations, event, now, step)
        if self.dispatcher is not None:
            self.dispatcher.tick(now, step)
