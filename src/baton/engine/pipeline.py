"""The engine: one event through ingest -> monitor -> decide -> coordinate -> govern ->
record + outbox. No I/O of its own and no waiting in live runs: storage is a port, and
effects leave through the outbox to execution workers, whose results come back as events.
"""

from __future__ import annotations

import logging
import time
import traceback
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import orjson

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
from baton.execution.effects import RESULT_PREFIX, WORKER_SOURCE, Effect, Outcome
from baton.execution.executor import FINAL, Executor
from baton.execution.port import Connector
from baton.execution.workers import WorkerPool
from baton.governance.gate import Gate, entities_for
from baton.governance.policies import PolicyBook
from baton.ledger.writer import LedgerWriter
from baton.model import Event
from baton.model.events import EVENT_TYPES, UNREADABLE, check_type
from baton.org.graph import ServiceGraph
from baton.store.port import DeadLetter, Step, Store

log = logging.getLogger(__name__)

#: how long the engine of a virtual-time run waits for one effect's result at its due time
RESULT_WAIT_S = 600.0
#: events processed between two snapshots of the engine's state
SNAPSHOT_EVERY = 10_000
#: longest a processing batch runs before it is committed
BATCH_BUDGET_MS = 50.0
#: commands that go ahead of a backlog longer than one batch: they take effect within one
#: processing batch, never behind someone's large request
URGENT = ("baton.kill_switch", "baton.objectives")


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
                 snapshot_every: int | None = SNAPSHOT_EVERY) -> None:
        self.config = config
        self.store = store
        self.live = live
        settings, org = config.settings, config.org
        self.event_types = dict(EVENT_TYPES)
        self.event_types.update({k: tuple(v) for k, v in settings.event_types.items()})
        self._own_agents = agents is None
        self.agents: list[Agent] = agents if agents is not None else [
            PlaybookAgent(a) for a in config.playbooks.agents]
        self.graph = ServiceGraph(org.services)
        self.book = PolicyBook(config.policies)
        self.gate = Gate(self.book, entities_for(org, {a.id: a.domain for a in self.agents}))
        self.executor = Executor(settings.connectors, connectors, store)
        self.pool: WorkerPool | None = None
        self._pool_size = workers or settings.connectors.workers
        # live results carry the time they came back; others their modelled due time
        self._stamp = stamp or ((lambda _e: datetime.now(UTC)) if live else None)
        self.on_result: Callable[[], None] | None = None
        self.on_commit: Callable[[], None] | None = None  # after each durable step
        self.recovering = False
        self._dead: dict[int, DeadLetter] | None = None
        self._poison: dict[int, str] = {}  # seq -> error, for events that raised
        # agents that learn from the stream keep state a snapshot cannot hold
        stateful = any(callable(getattr(a, "observe", None)) for a in self.agents)
        self.snapshot_every = None if stateful else snapshot_every
        self._since_snapshot = 0
        self.recovery: dict[str, object] = {}
        seq, head = store.ledger_head()
        self._stored_head = (seq, head)
        self._fresh_state(LedgerWriter(seq, head))
        self._recovered = seq == 0

    def _fresh_state(self, ledger: LedgerWriter) -> None:
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
        self.objectives = settings.objectives  # changed at run time by baton.objectives
        self.picture = Picture(org, self.budgets)
        for agent in self.agents:  # agents that want the shared picture get it
            see = getattr(agent, "see", None)
            if callable(see):
                see(self.picture)
        self.ledger = ledger
        self.actor = Actor(self)
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
        due = None if self.live else self.actor.next_due()
        if due is not None:
            times.append(due)
        return min(times, default=None)

    # -- workers ------------------------------------------------------------------------

    def workers(self) -> WorkerPool:
        """The execution workers (started on first use, stopped with the engine)."""
        if self.pool is None:
            self.pool = WorkerPool(self.executor, self.store, size=self._pool_size,
                                   stamp=self._stamp, on_result=self._result_came)
            weakref.finalize(self, self.pool.close, wait=0.0)
            self.store.on_close(self.pool.close)
        return self.pool

    def _result_came(self) -> None:
        if self.on_result is not None:
            self.on_result()

    def effect_dispatched(self, effect: Effect) -> None:
        """A target that dedupes may get its action at once; others wait for the commit."""
        if effect.idempotent and not self.recovering:
            self.workers().submit([effect], fresh=True)

    def _commit(self, step: Step) -> None:
        """Write the step, then hand its effects to the workers (the outbox is durable)."""
        self.store.commit(step)
        if step.effects and not self.recovering:
            self.workers().submit(step.effects, fresh=True)
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
            if not self.pool.wait_idle(max(0.0, deadline - time.monotonic())):
                break
            done += self.process_pending()
        return done + self.process_pending()

    # -- recovery -----------------------------------------------------------------------

    def recover(self) -> int:
        """Rebuild in-memory state by replaying every processed event, acting on nothing."""
        started = time.perf_counter()
        stored_seq, stored_head = self._stored_head
        self._recovered = True
        self._fresh_state(LedgerWriter(0, "0" * 64))
        self.recovering = True
        self._dead = {d.seq: d for d in self.store.dead_letters(status=None)}
        count = 0
        try:
            after = self._from_snapshot() if self.snapshot_every else 0
            base = after
            scratch = Step()
            while True:
                chunk = self.store.folded(after=after, limit=2000)
                if not chunk:
                    break
                self._foresee([(seq, event) for _, seq, event in chunk])
                for pos, seq, event in chunk:
                    dead = self._dead.get(seq)
                    if dead is not None:
                        self._quarantine_record(seq, event, dead.error, scratch)
                    else:
                        self._handle(seq, event, scratch)
                    self.last_seq = max(self.last_seq, seq)
                    self.ord = pos
                    count += 1
                after = chunk[-1][0]
                scratch.reset()
            self._replay_drain(scratch)
            first = self.store.events(processed=False, limit=1)
            if first:  # urgent commands may have gone ahead of events still waiting
                self.last_seq = min(self.last_seq, first[0][0] - 1)
        finally:
            self.recovering = False
        self.recovery = {"snapshot_at": base or None, "replayed": count,
                         "seconds": round(time.perf_counter() - started, 3)}
        if (self.ledger.seq, self.ledger.head) != (stored_seq, stored_head):
            # The configuration changed since those decisions were made; carry on from
            # the stored chain so the ledger stays one verifiable sequence.
            log.warning("replay gave ledger row %s but the store holds row %s; carrying on "
                        "from the stored chain", self.ledger.seq, stored_seq)
            self.ledger = LedgerWriter(stored_seq, stored_head)
        self._resume_effects()
        return count

    def _from_snapshot(self) -> int:
        """Load the newest usable snapshot; the log position to replay from (0: none)."""
        from baton.engine import snapshot

        for meta, body in self.store.snapshots():
            reason = snapshot.why_not(self, meta, body)
            if reason is None:
                try:
                    snapshot.restore(self, body)
                except Exception as exc:  # unreadable after all: the log is the truth
                    reason = f"it could not be read ({type(exc).__name__}: {exc})"
                    self._fresh_state(LedgerWriter(0, "0" * 64))
            if reason is None:
                self.ledger = LedgerWriter(meta.ledger_seq, meta.ledger_head)
                return meta.log_seq
            log.warning("snapshot at log position %s ignored: %s; replaying the log instead",
                        meta.log_seq, reason)
        return 0

    def snapshot(self) -> bool:
        """Store a snapshot of the state now (between batches); False when it cannot."""
        from baton.engine import snapshot

        self._since_snapshot = 0
        try:
            meta, body = snapshot.take(self)
            self.store.save_snapshot(meta, body)
        except Exception as exc:  # a state that cannot be pickled: restarts replay it all
            log.warning("no snapshot (%s: %s); restarts replay the whole log",
                        type(exc).__name__, exc)
            self.snapshot_every = None
            return False
        return True

    def _resume_effects(self) -> None:
        """Hand the workers what was dispatched before the restart and has not ended.

        An effect found `started` on a target that cannot dedupe is not sent again: the
        executor reports it `unknown`, for a person to reconcile.
        """
        waiting = []
        for key, pending in self.actor.inflight.items():
            rec = self.store.execution(key)
            if rec is None or rec.status not in FINAL:
                waiting.append(pending.effect)
        if waiting:
            self.workers().submit(waiting)

    # -- processing ---------------------------------------------------------------------

    def process_pending(self, *, batch: int = 500, limit: int | None = None,
                        budget_ms: float = BATCH_BUDGET_MS) -> int:
        """Process accepted events not yet processed, committing each batch atomically.

        A batch ends after `batch` events or `budget_ms` of work, whichever comes first,
        so a decision is durable (and its effects sent) soon after its event, even in a
        storm. An event whose processing raises is quarantined (a dead letter and a ledger
        record naming the error) and the next one is processed.
        """
        if not self._recovered:
            self.recover()
        done = 0
        step = Step()
        leftover: list[tuple[int, Event]] = []  # read, not reached before the budget ran out
        while limit is None or done < limit:
            size = batch if limit is None else min(batch, limit - done)
            chunk = leftover[:size] or self.store.events(after=self.last_seq,
                                                         processed=False, limit=size)
            leftover = []
            if not chunk:
                break
            # a command behind more than one batch of waiting events goes first
            urgent = self.store.events(after=chunk[-1][0], processed=False, types=URGENT,
                                       limit=size) if len(chunk) == size else []
            if urgent:
                chunk = urgent
            failed = False
            before = done
            self._foresee(chunk)
            deadline = time.perf_counter() + budget_ms / 1000.0
            for i, (seq, event) in enumerate(chunk):
                if done > before and time.perf_counter() > deadline:
                    leftover = chunk[i:]  # commit what is decided; the rest comes next
                    break
                error = self._poison.pop(seq, None)
                if error is not None:
                    self._quarantine(seq, event, error, step)
                else:
                    try:
                        self._handle(seq, event, step)
                    except Exception as exc:
                        self._set_aside(seq, event, exc)
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
            if self.snapshot_every and self._since_snapshot >= self.snapshot_every:
                self.snapshot()
        if not self.live and self.clock is not None:
            self._drain(step)
            self._commit(step)
        return done

    def _foresee(self, chunk: list[tuple[int, Event]]) -> None:
        """Ask Cedar, in batches, what the events of this chunk will probably ask it one by
        one; a guess that fails is only a lost shortcut, never a lost event."""
        try:
            self.actor.foresee([e for _, e in chunk])
        except Exception as exc:  # the event itself is judged (or quarantined) in order
            log.debug("no Cedar questions foreseen for this batch: %s", exc)

    def _drain(self, step: Step) -> None:
        """Fold in every result due by now (virtual time: as the next event would)."""
        if not self.live and self.clock is not None:
            self._fold_until(self.clock.now(), step)

    def _replay_drain(self, step: Step) -> None:
        """Replay the folds a run made after its last event (they follow it in the ledger),
        and no others: a run killed before its drain had not folded the rest."""
        if self.live or self.clock is None:
            return
        folded = set()
        for row in self.store.ledger_rows(after=self.ledger.seq):
            body = orjson.loads(row.body)
            if body.get("record") == "result":
                folded.add(str(body["key"]))
        if folded:
            self._fold_until(self.clock.now(), step, only=folded)

    def _fold_until(self, until: datetime, step: Step, *,
                    only: set[str] | None = None) -> None:
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
            pool = self.workers()
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

    def _set_aside(self, seq: int, event: Event, exc: Exception) -> None:
        """An event raised: forget the uncommitted batch and rebuild state from what is
        committed; the batch is processed again, with this event quarantined in its place."""
        error = f"{type(exc).__name__}: {exc}"[:2000]
        log.error("event %s (seq %s) could not be processed and is set aside: %s\n%s",
                  event.key, seq, error, traceback.format_exc())
        self._poison[seq] = error
        self._stored_head = self.store.ledger_head()
        self.recover()

    def _quarantine(self, seq: int, event: Event, error: str, step: Step) -> None:
        at = self.clock.now().isoformat() if self.clock is not None else event.time.isoformat()
        step.dead.append(DeadLetter(seq=seq, key=event.key, type=event.type, error=error,
                                    at=at))
        self._quarantine_record(seq, event, error, step)

    def _quarantine_record(self, seq: int, event: Event, error: str, step: Step) -> None:
        self.ledger.begin(event.key)
        self.stats.quarantined += 1
        rid = self.ledger.next_id("Q")
        body = {"record": "quarantine", "id": rid, "event": event.key, "seq": seq,
                "type": event.type, "error": error}
        step.ledger.append(self.ledger.append(rid, body))

    def _handle(self, seq: int, event: Event, step: Step) -> None:
        started = time.perf_counter()
        if UNREADABLE in event.attrs:
            raise ValueError(f"its stored body cannot be read: {event.attrs[UNREADABLE]}")
        if self.clock is None:
            self.clock = VirtualClock(event.time)
        if not self.live:
            self._fold_until(event.time, step)
        self.clock.advance_to(event.time)
        now = self.clock.now()
        self.ledger.begin(event.key)
        self.actor.begin(started)
        situations = self.monitor.due(now)
        self.actor.expire_escalations(now, step)
        for incident in self.coordinator.sweep(now):
            self.actor.incident_closed(incident)
        if event.type == "action.result" and event.source == WORKER_SOURCE:
            if self.live and event.key == RESULT_PREFIX + event.entity:
                a = event.attrs
                self.actor.fold(Outcome(event.entity, str(a.get("status", "failed")),
                                        int(a.get("attempts", 0)), str(a.get("detail", ""))),
                                now, step)
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
        if situations:
            self.stats.situations += len(situations)
            self.actor.decide(situations, event, now, step)
        if self.dispatcher is not None:
            self.actor.begin(time.perf_counter())  # an assignment batch: its own time
            self.dispatcher.tick(now, step)
