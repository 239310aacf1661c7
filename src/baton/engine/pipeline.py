"""The engine: one event through ingest -> monitor -> decide -> coordinate -> govern ->
record + outbox. No I/O of its own and no waiting in live runs: storage is a port, and
effects leave through the outbox to execution workers, whose results come back as events.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from baton.agents import roster
from baton.config import Config
from baton.engine import recovery
from baton.engine.act import Actor
from baton.engine.clock import VirtualClock
from baton.engine.context import Budgets
from baton.engine.coordinate import Coordinator
from baton.engine.decide import Agent, Observer, PlaybookAgent
from baton.engine.dispatch import Dispatcher
from baton.engine.ladder import Ladder
from baton.engine.monitor import Monitor
from baton.engine.picture import Picture
from baton.engine.stats import Stats
from baton.execution.effects import RESULT_PREFIX, WORKER_SOURCE, Effect, Outcome
from baton.execution.executor import FINAL, Executor
from baton.execution.port import Connector
from baton.execution.workers import WorkerPool
from baton.governance.gate import Gate, entities_for
from baton.governance.policies import PolicyBook
from baton.governance.versions import PolicyVersions
from baton.ledger import guard
from baton.ledger.policyset import PolicySet
from baton.ledger.tree import event_digest
from baton.ledger.writer import LedgerWriter
from baton.model import Event
from baton.model.events import EVENT_TYPES, UNREADABLE, check_type
from baton.org.graph import ServiceGraph
from baton.store.port import Step, Store

log = logging.getLogger(__name__)

#: how long the engine of a virtual-time run waits for one effect's result at its due time
RESULT_WAIT_S = 600.0
#: events processed between two snapshots of the engine's state (at least)
SNAPSHOT_EVERY = 10_000
#: a snapshot larger than this spaces the next one out in proportion: writing one costs
#: time in proportion to the state's size, so snapshots of a large organisation taken
#: every SNAPSHOT_EVERY events would cost more per event the larger it is
SNAPSHOT_BYTES = 1 << 20
#: longest a processing batch runs before it is committed
BATCH_BUDGET_MS = 50.0
#: longest a batch holding an urgent decision runs before it is committed
URGENT_MS = 10.0
#: events whose Cedar questions are foreseen together (one Cedar call, as a rule)
FORESEE = 100
#: commands that go ahead of a backlog longer than one batch: they take effect within one
#: processing batch, never behind someone's large request
URGENT = ("baton.kill_switch", "baton.objectives", "baton.autonomy")


class EffectSink(Protocol):
    """Takes effects to carry out once they may be sent."""

    def submit(self, effects: list[Effect], *, fresh: bool = False) -> None:
        """Carry these effects out (`fresh`: dispatched here for the first time)."""


class Engine:
    """Processes the event log in order; the same log and config give the same decisions.

    `live` runs fold each action's result in where its `action.result` event lands in the
    log, and never wait. Other runs (virtual time: replay, simulation, the headless demo)
    fold each result in at its due time, so the same log and seed give the same ledger
    whatever the workers' timing.
    """

    def __init__(self, config: Config, *, store: Store, connectors: Mapping[str, Connector],
                 agents: list[Agent] | None = None, live: bool = False,
                 workers: int | None = None,
                 stamp: Callable[[Effect], datetime] | None = None,
                 snapshot_every: int | None = SNAPSHOT_EVERY,
                 sink: EffectSink | None = None) -> None:
        self.config = config
        self.store = store
        self.live = live
        settings, org = config.settings, config.org
        self.event_types = dict(EVENT_TYPES)
        self.event_types.update({k: tuple(v) for k, v in settings.event_types.items()})
        self.event_types.update(roster.EVENT_TYPES)  # what outside agents send
        self._own_agents = agents is None
        self.agents: list[Agent] = agents if agents is not None else [
            PlaybookAgent(a) for a in config.playbooks.agents]
        self.graph = ServiceGraph(org.services)
        self.base_book = self.book = PolicyBook(config.policies)
        # recorded when it takes effect (a policy version going live changes it)
        self.base_policy_set = self.policy_set = PolicySet.of(config.policies)
        self.base_gate = self.gate = Gate(self.book, entities_for(
            org, {a.id: a.domain for a in self.agents}))
        #: why processing is held ('' when it is not): a table people read contradicts the
        #: ledger (`baton.ledger.watch`); an operator's acknowledgement clears it
        self.held = ""
        self.frozen_policies = False  # a backtest keeps its policy set whatever the log says
        self.executor = Executor(settings.connectors, connectors, store)
        self.pool: WorkerPool | None = None
        #: where effects go instead of the in-process workers (a cluster's work queue);
        #: their results come back as `action.result` events
        self.sink = sink
        self._pool_size = workers or settings.connectors.workers
        # live results carry the time they came back; others their modelled due time
        self._stamp = stamp or ((lambda _e: datetime.now(UTC)) if live else None)
        self.on_result: Callable[[], None] | None = None
        self.on_commit: Callable[[], None] | None = None  # after each durable step
        self.recovering = False
        self._poison: dict[int, str] = {}  # seq -> error, for events that raised
        # agents that learn from the stream keep state a snapshot cannot hold
        stateful = any(callable(getattr(a, "observe", None)) for a in self.agents)
        self.snapshot_every = None if stateful else snapshot_every
        self._since_snapshot = 0
        self._snapshot_gap = snapshot_every or 0  # events until the next snapshot is due
        self.recovery: dict[str, object] = {}
        seq, head = store.ledger_head()
        self.stored_head = (seq, head)
        self.fresh_state(LedgerWriter(seq, head))
        self._recovered = seq == 0

    def fresh_state(self, ledger: LedgerWriter) -> None:
        """Every in-memory part of the engine, as before the first event."""
        settings, org = self.config.settings, self.config.org
        if self._own_agents:
            self.agents = [PlaybookAgent(a) for a in self.config.playbooks.agents]
        self.observers: list[Observer] = [a for a in self.agents  # type: ignore[misc]
                                          if callable(getattr(a, "observe", None))]
        self.monitor = Monitor(settings.detectors, org)
        self.coordinator = Coordinator(self.graph, settings.coordination)
        self.clock: VirtualClock | None = None
        self.stats = Stats()
        self.budgets = Budgets(org)
        self.roster = roster.Roster(org)  # outside agents: limits and counts
        self.objectives = settings.objectives  # changed at run time by baton.objectives
        self.picture = Picture(org, self.budgets)
        for agent in self.agents:  # agents that want the shared picture get it
            see = getattr(agent, "see", None)
            if callable(see):
                see(self.picture)
        self.ledger = ledger
        self.actor = Actor(self)
        self.ladder = Ladder(self)  # per-class levels, outcomes and track records
        self.book, self.gate = self.base_book, self.base_gate
        self.policy_set = self.base_policy_set
        self.policies = PolicyVersions(self)  # the policy set in force, from the log
        self.dispatcher = Dispatcher(self) if settings.coordination.dispatch else None
        self.last_seq = 0  # the log is read in order after this seq (urgent commands aside)
        self.ord = 0  # how many events have been folded in, in the order they were

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

    def next_wakeup(self) -> datetime | None:
        """The earliest engine time at which something happens without a new event (an
        SLA timer, an escalation deadline, an incident going quiet, waiting work to
        assign, a result due); None when nothing waits. Clock ticks are only logged then,
        so an idle engine adds nothing to the log."""
        times: list[datetime] = []
        if self.monitor.timers:
            times.append(self.monitor.timers[0][0])
        if self.actor.deadlines:
            times.append(self.actor.deadlines[0][0])
        if self.coordinator.open:
            window = self.coordinator.window
            times.append(min(i.last_seen for i in self.coordinator.open.values()) + window)
        if self.dispatcher is not None and self.picture.waiting():
            times.append(self.dispatcher.next_tick() or datetime.min.replace(tzinfo=UTC))
        if (closes := self.ladder.next_due()) is not None:
            times.append(closes)
        due = None if self.live else self.actor.next_due()
        if due is not None:
            times.append(due)
        return min(times, default=None)

    # -- workers ------------------------------------------------------------------------

    def workers(self) -> EffectSink:
        """Where effects go: the sink, else the in-process workers (started on first
        use, stopped with the engine)."""
        if self.sink is not None:
            return self.sink
        return self.own_workers()

    def own_workers(self) -> WorkerPool:
        """The in-process execution workers (started on first use)."""
        if self.pool is None:
            # live: the engine stores the results with its own steps (one writer)
            self.pool = WorkerPool(self.executor, self.store, size=self._pool_size,
                                   stamp=self._stamp, on_result=self._result_came,
                                   handover=self.live)
            weakref.finalize(self, self.pool.close, wait=0.0)
            self.store.on_close(self.pool.close)
        return self.pool

    def _result_came(self) -> None:
        if self.on_result is not None:
            self.on_result()

    def effect_dispatched(self, effect: Effect) -> None:
        """A target that dedupes may get its action at once; others wait for the commit."""
        if effect.idempotent and not self.recovering and self.sink is None:
            self.workers().submit([effect], fresh=True)

    def _commit(self, step: Step) -> None:
        """Write the step with the results finished since the last one, then hand its
        effects to the workers (the outbox is durable)."""
        ready = self.pool.take_ready() if self.pool is not None and self.pool.handover \
            else []
        step.finished.extend(ready)
        self.store.commit(step)
        if step.effects and not self.recovering:
            # before the finished ones are let go: the pool still knows their keys and
            # sends none of them again; one folded already in this step is not sent again
            self.workers().submit([e for e in step.effects if e.key in self.actor.inflight],
                                  fresh=True)
        if ready:
            assert self.pool is not None
            self.pool.stored(ready)
        step.reset()
        if self.on_commit is not None:
            self.on_commit()

    def close(self) -> None:
        """Stop the workers after what they carry out now."""
        if self.pool is not None:
            self.pool.close()

    def settle(self, *, timeout: float = RESULT_WAIT_S) -> int:
        """Process everything pending and wait until every effect has ended (live runs
        fold the results in); returns the events processed."""
        deadline = time.monotonic() + timeout
        done = self.process_pending()
        while self.pool is not None and self.pool.busy():
            if not self.pool.wait_ready(max(0.0, deadline - time.monotonic())):
                break
            done += self.process_pending()
        return done + self.process_pending()

    # -- recovery -----------------------------------------------------------------------

    def recover(self, *, resume: bool = True) -> int:
        """Rebuild in-memory state from the newest good snapshot and the log's tail; then
        (with `resume`) hand the workers what was in flight. Raises LedgerHeldError, and
        stays unrecovered, while the stored ledger differs from the replay unacknowledged."""
        self._recovered = True
        try:
            return recovery.recover(self, resume=resume)
        except guard.LedgerHeldError:
            self._recovered = False
            raise

    def snapshot(self) -> bool:
        """Store a snapshot of the state now (between batches); False when it cannot.

        The next one is due after `snapshot_every` events, or proportionally more when
        this one is larger than SNAPSHOT_BYTES: the cost of snapshots per event stays
        flat as the organisation grows, and the tail a restart replays stays in
        proportion to the state it loads.
        """
        self._since_snapshot = 0
        size = recovery.take_snapshot(self)
        if size and self.snapshot_every:
            self._snapshot_gap = max(self.snapshot_every,
                                     self.snapshot_every * size // SNAPSHOT_BYTES)
        return size > 0

    # -- processing ---------------------------------------------------------------------

    def process_pending(self, *, batch: int = 500, limit: int | None = None,
                        budget_ms: float = BATCH_BUDGET_MS) -> int:
        """Process accepted events not yet processed, committing each batch atomically.

        A batch ends after `batch` events or `budget_ms` of work, whichever comes first,
        so a decision is durable (and its effects sent) soon after its event, even in a
        storm; one holding an urgent decision (severity within
        `escalation.urgent_severity`) ends after URGENT_MS, so its action or page goes
        out first. An event whose processing raises is quarantined (a dead letter and a
        ledger record naming the error) and the next one is processed.
        """
        if not self._recovered:
            self.recover()
        if self.held:  # a table contradicts the ledger: nothing more until acknowledged
            return 0
        done = 0
        step = Step()
        leftover: list[tuple[int, Event]] = []  # read, not reached before the budget ran out
        ahead = 0  # the last seq whose Cedar questions were foreseen
        while limit is None or done < limit:
            size = batch if limit is None else min(batch, limit - done)
            chunk = leftover[:size] or self.store.events(after=self.last_seq,
                                                         processed=False, limit=size)
            leftover = []
            if not chunk:
                if self.pool is not None and self.pool.ready():
                    self._commit(step)  # results came back: their events are next
                    continue
                break
            # a command behind more than one batch of waiting events goes first
            urgent = self.store.events(after=chunk[-1][0], processed=False, types=URGENT,
                                       limit=size) if len(chunk) == size else []
            if urgent:
                chunk = urgent
            failed = False
            before = done
            started = time.perf_counter()
            deadline, soon = started + budget_ms / 1000.0, started + URGENT_MS / 1000.0
            for i, (seq, event) in enumerate(chunk):
                if done > before and time.perf_counter() > (soon if step.urgent else deadline):
                    leftover = chunk[i:]  # commit what is decided; the rest comes next
                    break
                if seq > ahead and not urgent:  # a slice at a time: the first decision waits
                    ahead = self.foresee(chunk[i:i + FORESEE])
                error = self._poison.pop(seq, None)
                if error is not None:
                    recovery.quarantine(self, seq, event, error, step)
                else:
                    try:
                        self.handle(seq, event, step)
                    except Exception as exc:
                        self._poison[seq] = recovery.set_aside(self, seq, event, exc)
                        failed = True
                        break
                if not urgent:
                    self.last_seq = max(self.last_seq, seq)
                if not step.processed:
                    step.first_ord = self.ord + 1
                step.processed.append(seq)
                self.ord += 1
                done += 1
            if failed:  # state rebuilt from what is committed: this chunk again, without it
                step, done = Step(), before
                continue
            self._since_snapshot += done - before
            self._commit(step)
            if self.snapshot_every and self._since_snapshot >= max(self.snapshot_every,
                                                                   self._snapshot_gap):
                self.snapshot()
        if not self.live and self.clock is not None:
            self._drain(step)
            self._commit(step)
        return done

    def foresee(self, chunk: list[tuple[int, Event]]) -> int:
        """Ask Cedar, in batches, what the events of this chunk will probably ask it one by
        one; a guess that fails is only a lost shortcut, never a lost event. Returns the
        last seq of the chunk."""
        try:
            self.actor.foresee([e for _, e in chunk])
        except Exception as exc:  # the event itself is judged (or quarantined) in order
            log.debug("no Cedar questions foreseen for this batch: %s", exc)
        return max((seq for seq, _ in chunk), default=0)

    def _drain(self, step: Step) -> None:
        """Fold in every result due by now (virtual time: as the next event would)."""
        if not self.live and self.clock is not None:
            self.fold_until(self.clock.now(), step)

    def fold_until(self, until: datetime, step: Step, *,
                   only: set[str] | None = None) -> None:
        """Fold in the results due by `until` (virtual time), or only those in `only`."""
        while (due := self.actor.next_due()) is not None and due <= until:
            if only is not None and self.actor.due[0][1] not in only:
                return
            effect = self.actor.pop_due()
            outcome = self._outcome_of(effect, step)
            assert self.clock is not None
            self.clock.advance_to(due)
            self.actor.begin(time.perf_counter())
            self.actor.fold(outcome, self.clock.now(), step)

    def _outcome_of(self, effect: Effect, step: Step) -> Outcome:
        """How an effect ended; in a virtual-time run this waits for its worker."""
        if not self.recovering:
            pool = self.own_workers()
            if not pool.submitted(effect.key):
                rec = self.store.execution(effect.key)
                if rec is None or rec.status not in FINAL:
                    if any(e.key == effect.key for e in step.effects):
                        self._commit(step)  # a target that cannot dedupe: durable first
                    pool.submit([effect])
            if pool.submitted(effect.key):
                found = pool.outcome(effect.key, timeout=RESULT_WAIT_S)
                pool.forget(effect.key)
                if found is not None:
                    return found
                return Outcome(effect.key, "unknown", 0,
                               f"no result within {RESULT_WAIT_S:.0f} s of waiting")
        rec = self.store.execution(effect.key)
        if rec is not None and rec.status in FINAL:
            return Outcome(effect.key, rec.status, rec.attempts, rec.detail)
        return Outcome(effect.key, "unknown", 0, "no record of its result")

    def handle(self, seq: int, event: Event, step: Step) -> None:
        """Fold one event in: monitor, decide, coordinate, govern, record into `step`."""
        started = time.perf_counter()
        if UNREADABLE in event.attrs:
            raise ValueError(f"its stored body cannot be read: {event.attrs[UNREADABLE]}")
        if self.clock is None:
            self.clock = VirtualClock(event.time)
        if not self.live:
            self.fold_until(event.time, step)
        self.clock.advance_to(event.time)
        now = self.clock.now()
        self.ledger.begin(event.key, event_digest(event))
        self.actor.begin(started)
        self.actor.note_policies(now, step)
        situations = self.monitor.due(now)
        self.actor.expire_escalations(now, step)
        self.ladder.tick(now, step)
        for incident in self.coordinator.sweep(now):
            self.actor.incident_closed(incident)
        if event.type == "action.result" and event.source == WORKER_SOURCE:
            if self.live and event.key == RESULT_PREFIX + event.entity:
                a = event.attrs
                self.actor.fold(Outcome(event.entity, str(a.get("status", "failed")),
                                        int(a.get("attempts", 0)), str(a.get("detail", ""))),
                                now, step)
        elif event.type in roster.EVENT_TYPES or (event.type == "baton.kill_switch"
                                                  and event.attrs.get("agent")):
            situations += self.roster.handle(event, now, step, self.actor)
        elif event.is_control:
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
        if not event.is_control:
            self.ladder.observe(event, situations, self.monitor.take_breached(), now, step)
        if situations:
            self.stats.situations += len(situations)
            self.actor.decide(situations, event, now, step)
        if self.dispatcher is not None:
            self.actor.begin(time.perf_counter())  # an assignment batch: its own time
            self.dispatcher.tick(now, step)
