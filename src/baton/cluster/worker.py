"""An execution worker of a cluster: takes effects from the bus's work queue, carries each
out through its connector at most once per key, and sends its result back as an event.

Any number run side by side and share one durable consumer, so each effect goes to one
of them. A worker tells JetStream it is still busy while a slow target answers; one that
dies holding an effect has it delivered to another once the ack wait passes. The executor
then finds the key's record: a target that dedupes gets the effect again under the same
key, one that cannot is never sent it blind again and the result is `unknown`, for a
person to reconcile.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from baton.cluster.bus import Bus, Message
from baton.cluster.health import ProcessMetrics, health_app, serve_health
from baton.cluster.leadership import MAIN_CELL, process_id
from baton.cluster.registry import Presence
from baton.execution.effects import Effect
from baton.execution.executor import Executor
from baton.execution.workers import result_event
from baton.org.cells import Cells

log = logging.getLogger(__name__)


def run_worker(config_dir: Path | None, db: str, bus_url: str, *, threads: int = 4,
               port: int | None = None, ack_wait: float | None = None,
               stop: threading.Event | None = None, say: Any = print) -> int:
    """Carry effects out until `stop`, then finish what is in hand; returns 0."""
    from baton.app import config_for
    from baton.connectors import build_connectors
    from baton.store import open_store

    stop = stop or threading.Event()
    store = open_store(db, create=config_dir is not None)
    config = config_for(store, config_dir)
    executors: dict[str, Executor] = {}  # per cell: each keeps its records in its cell
    made = threading.Lock()

    def executor_for(cell: str) -> Executor:
        with made:
            if cell not in executors:
                home = store if cell == MAIN_CELL else open_store(db, cell=cell)
                executors[cell] = Executor(config.settings.connectors, build_connectors(
                    config, seed=config.settings.seed, store=home), home)
            return executors[cell]

    serial = {name: threading.Lock()
              for name, c in executor_for(MAIN_CELL).connectors.items() if c.serial}
    bus = Bus(bus_url, **({"ack_wait": ack_wait} if ack_wait else {}))
    me = process_id()
    metrics = ProcessMetrics("worker", "*")
    busy = threading.Semaphore(threads)
    held = [0]
    health = serve_health(health_app(metrics, lambda: (True, {"busy": held[0]})),
                          port) if port else None
    presence = Presence(store.engine, me, "worker", "*", state="working")
    reader = bus.effects_reader(Cells(config.org).ids)
    pool = ThreadPoolExecutor(threads, thread_name_prefix="baton-effect")

    def carry(message: Message) -> None:
        done = threading.Event()

        def keep_alive() -> None:  # a slow target must not make JetStream hand it on
            while not done.wait(bus.ack_wait / 3):
                try:
                    bus.working(message)
                except Exception:
                    log.warning("could not tell the bus effect %s is in progress",
                                message.seq)

        try:
            try:
                effect = Effect.from_json(message.data.decode())
            except Exception as exc:  # not an effect: dropped, and said so
                log.warning("bus message %s is not an effect, dropped: %s", message.seq, exc)
                metrics.rejected.inc()
                bus.ack(message)
                return
            threading.Thread(target=keep_alive, daemon=True).start()
            cell = message.subject.rsplit(".", 1)[-1]
            executor = executor_for(cell)
            lock = serial.get(effect.connector)
            if lock is not None:
                with lock:
                    record = executor.carry_out(effect)
            else:
                record = executor.carry_out(effect)
            executor.store.finish_effects([(record, None)])
            result = result_event(effect, record, datetime.now(UTC))
            bus.publish_events(cell, [(result.key, result.to_json().encode())])
            bus.ack(message)  # only now: a death before this hands it to another worker
            metrics.effects.labels(**metrics.labels, status=record.status).inc()
        except Exception:
            log.exception("effect in bus message %s not finished; it will be delivered "
                          "again", message.seq)
        finally:
            done.set()
            held[0] -= 1
            busy.release()

    say(f"worker {me} carrying effects out with {threads} threads")
    try:
        while not stop.is_set():
            if not busy.acquire(timeout=0.5):
                continue
            messages = reader.read(1, timeout=0.5)
            if not messages:
                busy.release()
                continue
            held[0] += 1
            pool.submit(carry, messages[0])
        return 0
    finally:
        pool.shutdown(wait=True)  # finish what is in hand
        presence.close()
        bus.close()
        if health is not None:
            health.should_exit = True
        for cell, executor in executors.items():
            if cell != MAIN_CELL:
                executor.store.close()
        store.close()
