"""The engine inside the web process: one lock, one engine, many readers."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from baton.audit import LiveAudit
from baton.engine.coordinate import Incident
from baton.engine.pipeline import Engine
from baton.model import Event
from baton.web.metrics import Metrics
from baton.web.presence import Presence

if TYPE_CHECKING:
    from baton.cluster.bus import Bus
    from baton.store.port import Store

T = TypeVar("T")
log = logging.getLogger(__name__)
#: events decided per turn of the engine lock; a request with more is decided in the back
BATCH = 500
RECENT_INCIDENTS = 30  # closed incidents the incidents page lists


@dataclass
class DemoStatus:
    """What the demo's world is doing, for the pages: its pace, its day, whether it ended."""

    speed: float  # virtual seconds per real second asked for
    pace: float  # the pace now: slower while a person has an escalation open
    day: int = 1
    ended: datetime | None = None  # the virtual time the run stopped (no looping)
    holding: list[str] = field(default_factory=list)  # people the world waits for


class EngineHost:
    """Owns the engine of one database; every change goes through `run` under one lock.

    Readers (pages, API reads) go straight to the store: SQLite in WAL mode and
    PostgreSQL both let them read while the engine writes.
    """

    #: the cluster's bus (an API replica sets it; None in the embedded mode)
    bus: Bus | None = None
    #: a store on the main cell's schema, opened by the cluster page on first use
    cluster_store: Store | None = None

    def __init__(self, engine: Engine, *, virtual_clock: bool = False,
                 reports: Path | None = None) -> None:
        self.engine = engine
        self.reports = reports  # a folder whose */report.html the dashboard shows
        self.store = engine.store
        self.config = engine.config
        self.virtual_clock = virtual_clock
        self.lock = threading.RLock()
        self.metrics = Metrics()
        self.presence = Presence()
        #: incidents closed while this host ran, newest first (for the incidents page)
        self.recent_incidents: deque[Incident] = deque(maxlen=RECENT_INCIDENTS)
        self.demo: DemoStatus | None = None  # set when the host runs the demo's world
        self._seen_ledger = engine.ledger.seq
        self.changed = threading.Condition()
        self.version = 0
        # A processor thread decides what requests only appended (large batches) and the
        # results of actions that come back while no request is running.
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._processor: threading.Thread | None = None
        self.duties = LiveAudit(engine, self._quiet) if engine.live else None
        if engine.live:
            engine.on_result = self._wake.set
            self._processor = threading.Thread(target=self._process_loop,
                                               name="baton-processor", daemon=True)
            self._processor.start()

    def _process_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(1.0)
            if self._stop.is_set():
                return
            if self._wake.is_set():
                self._wake.clear()
                try:
                    self.drain()
                except Exception:  # the database went away; the next wake retries
                    log.exception("processing accepted events failed")
            if self.duties is not None:
                self.duties.maybe(self.now())

    def drain(self, keys: list[str] | None = None) -> None:
        """Process what is pending one batch per turn of the lock, so a command from
        another request (a kill switch) gets in between batches; with `keys`, until those
        events are processed."""
        while not self._stop.is_set():
            done = self.run(lambda engine: engine.process_pending(limit=BATCH))
            if keys is not None and not self.store.unprocessed(keys):
                return
            if not done:
                return

    def wake(self) -> None:
        """Have the processor thread look for pending events now (after a hold ends)."""
        self._wake.set()

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

    def _quiet(self, work: Callable[[], T]) -> T:
        """Run `work` while the engine appends nothing (a projection check's second look)."""
        with self.lock:
            return work()

    def run(self, work: Callable[[Engine], T]) -> T:
        """Run `work` on the engine under the lock, then publish what changed."""
        with self.lock:
            before = dict(self.engine.coordinator.open)
            result = work(self.engine)
            self._note_closed(before)
            self._after()
        return result

    def _note_closed(self, before: dict[str, Incident]) -> None:
        """Keep the incidents that `work` closed (the engine keeps only their count)."""
        still = self.engine.coordinator.open
        for incident_id, incident in before.items():
            if incident_id not in still and incident.resolved is not None:
                self.recent_incidents.appendleft(incident)

    def submit(self, events: list[Event]) -> list[bool]:
        """Accept events durably; per event, False for a duplicate.

        A batch of up to BATCH events is decided before this returns (a person who posts
        one event sees its decision). A larger one is only appended: the processor thread
        decides it a batch at a time, and the request answers once the events are durable.
        """
        # appended under the lock: on PostgreSQL a sequence number taken by one transaction
        # may commit after a later one, and the engine reads the log in order
        fresh = self.run(lambda engine: engine.ingest(events))
        if self._processor is not None and len(events) > BATCH:
            self._wake.set()
        else:
            self.drain([e.key for e in events])
        return fresh

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
