"""Execution workers: a pool of threads beside the engine that carry effects out.

The engine hands over effects once they may be sent (a target that cannot dedupe only
after the outbox row is committed). Each worker sends one effect through the executor,
then a recorder thread stores its final record, closes the outbox row and (in live runs)
appends the `action.result` event, many effects in one transaction (group commit). A slow
or dead target holds only the worker carrying its own action.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime

from baton.execution.effects import RESULT_PREFIX, WORKER_SOURCE, Effect, Outcome
from baton.execution.executor import Executor, finish
from baton.model import Event
from baton.store.port import ExecutionRecord, Store

log = logging.getLogger(__name__)


def result_event(effect: Effect, record: ExecutionRecord, at: datetime) -> Event:
    """The log event that reports how an effect ended (entity = its idempotency key)."""
    return Event(key=RESULT_PREFIX + effect.key, type="action.result", entity=effect.key,
                 time=at, source=WORKER_SOURCE,
                 attrs={"ok": record.status == "done", "status": record.status,
                        "attempts": record.attempts, "detail": record.detail[:500],
                        "decision": effect.decision, "kind": effect.action.kind,
                        "resource": effect.action.resource})


class WorkerPool:
    """Threads that carry effects out; serial connectors get one lane of their own."""

    def __init__(self, executor: Executor, store: Store, *, size: int = 4,
                 stamp: Callable[[Effect], datetime] | None = None,
                 on_result: Callable[[], None] | None = None,
                 handover: bool = False) -> None:
        """`stamp` gives a result event's time; None stores no result events (virtual-time
        runs fold results in at their due time from the execution records instead).

        With `handover` the pool does not write: finished effects wait in `take_ready()`
        for the engine to store them with its next step (one writer, one commit), and
        `stored()` reports them done; `on_result` says when some are ready.
        """
        self.executor = executor
        self.store = store
        self.stamp = stamp
        self.on_result = on_result
        self.handover = handover
        self._ready: list[tuple[ExecutionRecord, Event | None]] = []
        self._cond = threading.Condition()
        self._done: dict[str, Outcome] = {}
        self._submitted: set[str] = set()
        self._pending = 0
        self._lanes: dict[str, queue.Queue[tuple[Effect, bool] | None]] = {}
        self._threads: list[threading.Thread] = []
        shared: queue.Queue[tuple[Effect, bool] | None] = queue.Queue()
        self._lanes["*"] = shared
        self._finished: queue.Queue[tuple[Effect, ExecutionRecord] | None] = queue.Queue()
        self._recorder = threading.Thread(target=self._record, name="baton-recorder",
                                          daemon=True)
        self._recorder.start()
        for i in range(size):
            self._start(shared, f"baton-worker-{i}")
        for name, connector in executor.connectors.items():
            if connector.serial:
                lane: queue.Queue[tuple[Effect, bool] | None] = queue.Queue()
                self._lanes[name] = lane
                self._start(lane, f"baton-worker-{name}")
        self._closed = False

    def _start(self, lane: queue.Queue[tuple[Effect, bool] | None], name: str) -> None:
        thread = threading.Thread(target=self._work, args=(lane,), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def submit(self, effects: Iterable[Effect], *, fresh: bool = False) -> None:
        """Carry these effects out (each key once per pool); `fresh` ones were dispatched
        by this process for the first time (see Executor.carry_out)."""
        for effect in effects:
            with self._cond:
                if effect.key in self._submitted:
                    continue
                self._submitted.add(effect.key)
                self._pending += 1
            self._lanes.get(effect.connector, self._lanes["*"]).put((effect, fresh))

    def submitted(self, key: str) -> bool:
        """True when this pool was given `key`."""
        with self._cond:
            return key in self._submitted

    def outcome(self, key: str, *, timeout: float | None = None) -> Outcome | None:
        """The outcome of a submitted effect, waiting for it up to `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while key not in self._done:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._cond.wait(left)
            return self._done[key]

    def busy(self) -> int:
        """Effects submitted and not yet finished."""
        with self._cond:
            return self._pending

    def forget(self, key: str) -> None:
        """Drop a folded outcome (keeps memory flat over a long run); asked again, the key
        is looked up in the store, never sent again."""
        with self._cond:
            if self._done.pop(key, None) is not None:
                self._submitted.discard(key)

    def _work(self, lane: queue.Queue[tuple[Effect, bool] | None]) -> None:
        while True:
            item = lane.get()
            if item is None or self._closed:
                return
            effect, fresh = item
            try:
                record = self.executor.carry_out(effect, fresh=fresh)
            except Exception as exc:  # e.g. the store did not answer the lookup
                record = finish(ExecutionRecord(
                    key=effect.key, decision=effect.decision, kind=effect.action.kind,
                    resource=effect.action.resource, connector=effect.connector,
                    status="started", at=effect.at), "failed", 0,
                    f"worker could not carry it out: {type(exc).__name__}: {exc}")
            self._finished.put((effect, record))

    def _record(self) -> None:
        """Store finished effects in batches, then report them done."""
        while True:
            first = self._finished.get()
            if first is None or self._closed:
                return
            batch = [first]
            while len(batch) < 500:
                try:
                    more = self._finished.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._finished.put(None)
                    break
                batch.append(more)
            if self.handover:
                rows = self._rows(batch)
                with self._cond:
                    self._ready.extend(rows)
                    self._cond.notify_all()
            else:
                self._store(batch)
                with self._cond:
                    for effect, record in batch:
                        self._done[effect.key] = Outcome(effect.key, record.status,
                                                         record.attempts, record.detail)
                        self._pending -= 1
                    self._cond.notify_all()
            if self.on_result is not None:
                self.on_result()

    def take_ready(self, limit: int = 2000) -> list[tuple[ExecutionRecord, Event | None]]:
        """Finished effects for the engine to store (handover mode), oldest first; report
        them with `stored()` once committed."""
        with self._cond:
            taken, self._ready = self._ready[:limit], self._ready[limit:]
        return taken

    def stored(self, rows: list[tuple[ExecutionRecord, Event | None]]) -> None:
        """These finished effects are durable: they are done."""
        if not rows:
            return
        with self._cond:
            for record, _ in rows:
                self._submitted.discard(record.key)
                self._pending -= 1
            self._cond.notify_all()

    def ready(self) -> bool:
        """True when finished effects wait to be stored (handover mode)."""
        with self._cond:
            return bool(self._ready)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until a finished effect waits to be stored or nothing is in flight;
        False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._ready and self._pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _rows(self, batch: list[tuple[Effect, ExecutionRecord]]
              ) -> list[tuple[ExecutionRecord, Event | None]]:
        return [(record, None if self.stamp is None
                 else result_event(effect, record, self.stamp(effect)))
                for effect, record in batch]

    def _store(self, batch: list[tuple[Effect, ExecutionRecord]]) -> None:
        self._write(self._rows(batch))

    def _write(self, rows: list[tuple[ExecutionRecord, Event | None]]) -> None:
        for attempt in range(20):  # the database may be briefly away; the result must land
            try:
                self.store.finish_effects(rows)
                return
            except Exception as exc:
                if self._closed:
                    return
                log.warning("storing %d results failed (%s); retrying", len(rows), exc)
                time.sleep(min(2.0, 0.05 * 2 ** attempt))
        log.error("%d results could not be stored; they are reconciled at the next start",
                  len(rows))

    def close(self, *, wait: float = 5.0, abandon: bool = False) -> None:
        """Stop the workers after what they are carrying out (waits up to `wait` s);
        `abandon` drops what waits in the queues (it stays pending in the outbox and is
        resumed at the next start)."""
        if abandon:
            self._closed = True
            for lane in self._lanes.values():
                while True:
                    try:
                        lane.get_nowait()
                    except queue.Empty:
                        break
        for lane in self._lanes.values():
            for _ in self._threads:
                lane.put(None)
        deadline = time.monotonic() + wait
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._finished.put(None)
        self._recorder.join(max(0.0, deadline - time.monotonic()))
        self._closed = True  # a worker still held by its target stores nothing after this
        left = self.take_ready(limit=10**9)
        if left:  # finished but not yet stored by the engine: they must not be lost
            try:
                self.store.finish_effects(left)
            except Exception as exc:
                log.error("%d results could not be stored at close (%s); they are "
                          "reconciled at the next start", len(left), exc)
