"""The engine inside the web process: one lock, one engine, many readers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from baton.engine.pipeline import Engine
from baton.model import Event
from baton.web.metrics import Metrics

T = TypeVar("T")
log = logging.getLogger(__name__)


class EngineHost:
    """Owns the engine of one database; every change goes through `run` under one lock.

    Readers (pages, API reads) go straight to the store: SQLite in WAL mode and
    PostgreSQL both let them read while the engine writes.
    """

    def __init__(self, engine: Engine, *, virtual_clock: bool = False,
                 reports: Path | None = None) -> None:
        self.engine = engine
        self.reports = reports  # a folder whose */report.html the dashboard shows
        self.store = engine.store
        self.config = engine.config
        self.virtual_clock = virtual_clock
        self.lock = threading.RLock()
        self.metrics = Metrics()
        self._seen_ledger = engine.ledger.seq
        self.changed = threading.Condition()
        self.version = 0
        # results of actions come back as events while no request is running: a processor
        # thread folds them in as they arrive
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._processor: threading.Thread | None = None
        if engine.live:
            engine.on_result = self._wake.set
            self._processor = threading.Thread(target=self._process_results,
                                               name="baton-processor", daemon=True)
            self._processor.start()

    def _process_results(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(1.0)
            if self._stop.is_set():
                return
            if self._wake.is_set():
                self._wake.clear()
                try:
                    self.run(lambda engine: engine.process_pending())
                except Exception:  # the database went away; the next result retries
                    log.exception("processing the results of actions failed")

    def close(self) -> None:
        """Stop the processor thread and the engine's workers."""
        self._stop.set()
        self._wake.set()
        if self._processor is not None:
            self._processor.join(5.0)
        self.engine.close()

    def now(self) -> datetime:
        """The time to stamp on a command: engine time in a virtual-time run, else now."""
        if self.virtual_clock and self.engine.clock is not None:
            return self.engine.now()
        return datetime.now(UTC)

    def run(self, work: Callable[[Engine], T]) -> T:
        """Run `work` on the engine under the lock, then publish what changed."""
        with self.lock:
            result = work(self.engine)
            self._after()
        return result

    def submit(self, events: list[Event]) -> list[bool]:
        """Accept events durably and process them now; per event, False for a duplicate."""

        def go(engine: Engine) -> list[bool]:
            fresh = engine.ingest(events)
            engine.process_pending()
            return fresh

        return self.run(go)

    def _after(self) -> None:
        if self.engine.ledger.seq == self._seen_ledger:
            return
        for record in self.store.decisions(limit=self.engine.ledger.seq - self._seen_ledger):
            self.metrics.observe(record)
        self._seen_ledger = self.engine.ledger.seq
        with self.changed:
            self.version += 1
            self.changed.notify_all()


def latest_report(folder: Path | None) -> Path | None:
    """The newest report.html in `folder` or one level below it."""
    if folder is None or not folder.is_dir():
        return None
    found = [*folder.glob("report.html"), *folder.glob("*/report.html")]
    return max(found, key=lambda p: (p.stat().st_mtime, str(p)), default=None)
