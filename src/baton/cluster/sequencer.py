"""The sequencer: a cell's engine in a cluster. Exactly one leads each cell; the others
stand by, hot, and take over within seconds of its death.

The leader reads the cell's events from the bus in stream order, appends them to the log
together with the stream position they reach (one fenced transaction), decides, and sends
each committed effect to the workers' queue. A new leader recovers from the newest
snapshot plus the log's tail, sends again what was in flight (the bus drops duplicates;
the workers carry out each key at most once), and reads the bus from the stored position,
so nothing is skipped and nothing is appended twice.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from baton.cluster.bus import Bus, Message
from baton.cluster.health import ProcessMetrics, health_app, serve_health
from baton.cluster.leadership import (
    LEASE_TTL_S,
    MAIN_CELL,
    FencedError,
    Leadership,
    fence_for,
    process_id,
)
from baton.cluster.registry import Presence
from baton.errors import InputError
from baton.execution.effects import Effect
from baton.model import Event
from baton.org.cells import Cells

log = logging.getLogger(__name__)

#: events read from the bus per batch
READ_BATCH = 500
#: exit code of a sequencer whose epoch was taken over while it was paused
FENCED_EXIT = 3


def position_key(cell: str) -> str:
    """The setting that holds how far into the cell's stream the log has appended."""
    return f"bus.position.{cell}"


class BusSink:
    """Sends committed effects to the workers' queue, one message id per effect key."""

    def __init__(self, bus: Bus, cell: str) -> None:
        self.bus = bus
        self.cell = cell

    def submit(self, effects: list[Effect], *, fresh: bool = False) -> None:
        """Publish these effects durably (a duplicate key is dropped by the bus)."""
        if effects:
            self.bus.publish_effects(self.cell, [(e.key, e.to_json().encode())
                                                 for e in effects])


def parse_event(message: Message, validate: Any) -> Event | None:
    """The event a bus message carries, or None (logged) when it is not a valid one."""
    try:
        event = Event.model_validate_json(message.data)
        validate(event, f"bus message {message.seq}")
    except (ValidationError, InputError, ValueError) as exc:
        log.warning("bus message %s on %s is not a valid event, skipped: %s",
                    message.seq, message.subject, str(exc)[:300])
        return None
    return event


class Upstream:
    """Tells the cells that depend on this cell's services of its incidents on them:
    an `incident.upstream` event when one opens and when it is resolved. The keys are
    derived from the incident, so a new leader that tells again is dropped as a duplicate."""

    def __init__(self, bus: Bus, cells: Cells, cell: str) -> None:
        self.bus = bus
        self.cells = cells
        self.cell = cell
        self.told: dict[str, str] = {}  # incident id -> the state last told
        self.roots: dict[str, str] = {}  # incident id -> its root service

    def publish(self, engine: Any) -> None:
        """Publish what changed since the last call."""
        coordinator = engine.coordinator
        now = {i.id: (i, "open") for i in coordinator.open.values()}
        for incident_id, state in list(self.told.items()):
            if incident_id not in now and state == "open":
                self._tell(incident_id, self.roots.get(incident_id, ""), "resolved",
                           engine.now())
                self.told[incident_id] = "resolved"
        for incident_id, (incident, state) in now.items():
            if self.told.get(incident_id) != state:
                self._tell(incident_id, incident.root, state, incident.opened)
                self.told[incident_id] = state  # only once told: a failure tells it again
                self.roots[incident_id] = incident.root

    def _tell(self, incident_id: str, root: str, state: str, at: datetime) -> None:
        for other in self.cells.dependents(root):
            event = Event(key=f"upstream:{self.cell}:{incident_id}:{state}",
                          type="incident.upstream", entity=root, time=at,
                          source=f"cell:{self.cell}",
                          attrs={"cell": self.cell, "state": state, "incident": incident_id})
            self.bus.publish_events(other, [(event.key, event.to_json().encode())])


@dataclass
class SequencerState:
    """What `/readyz` and the presence row say about a sequencer."""

    cell: str
    leading: bool = False
    epoch: int = 0
    appended: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


def run_sequencer(config_dir: Path | None, db: str, bus_url: str, *, cell: str = MAIN_CELL,
                  port: int | None = None, tick: float = 1.0, ttl: float = LEASE_TTL_S,
                  stop: threading.Event | None = None,
                  say: Any = print) -> int:
    """Stand by, lead when the lease is free, and decide the cell's events until `stop`;
    returns the exit code (FENCED_EXIT when another process took over)."""
    from baton.app import config_for, open_engine
    from baton.audit import LiveAudit
    from baton.store import open_store

    stop = stop or threading.Event()
    store = open_store(db, create=config_dir is not None, cell=cell)
    sql = store.engine
    me = process_id()
    state = SequencerState(cell)
    metrics = ProcessMetrics("sequencer", cell)
    health = serve_health(health_app(metrics, lambda: (state.leading, {
        "epoch": state.epoch, "appended": state.appended})), port) if port else None
    presence = Presence(sql, me, "sequencer", cell, state="standby")
    bus = Bus(bus_url)
    leadership = Leadership(sql, cell, owner=me, ttl=ttl)
    engine = None
    try:
        lease = leadership.wait(stop=stop, on_wait=lambda holder: say(
            f"standing by for cell {cell}: {holder.get('owner', '?')} leads "
            f"(epoch {holder.get('epoch', '?')})"))
        if lease is None:
            return 0
        known = Cells(config_for(store, config_dir).org).ids
        if cell not in known:
            raise InputError(f"--cell {cell!r} is not a cell of the organisation (its cells: "
                             f"{', '.join(known)})")
        store.fence = fence_for(lease)
        leadership.keep(on_lost=stop.set)
        state.leading, state.epoch = True, lease.epoch
        metrics.leading.set(1)
        metrics.epoch.set(lease.epoch)
        presence.set("leading", f"epoch {lease.epoch}")
        started = time.perf_counter()
        engine = open_engine(db, config_dir, store=store, sink=BusSink(bus, cell))
        say(f"leading cell {cell} under epoch {lease.epoch} (recovered in "
            f"{time.perf_counter() - started:.2f} s: {engine.recovery})")
        duties = LiveAudit(engine, lambda check: check())
        upstream = Upstream(bus, Cells(engine.config.org), cell)
        after = int(store.setting(position_key(cell)) or 0)
        reader = bus.events_reader(cell, after=after)
        last_tick = time.monotonic()
        while not stop.is_set():
            try:
                messages = reader.read(READ_BATCH, timeout=0.2)
            except Exception as exc:  # the bus is away: decide what is here, then retry
                log.warning("reading cell %s from the bus failed (%s: %s); retrying",
                            cell, type(exc).__name__, exc)
                stop.wait(0.5)
                messages = []
            if messages:
                events = [e for m in messages if (e := parse_event(m, engine.validate))]
                metrics.rejected.inc(len(messages) - len(events))
                fresh = store.append_events(events, settings={
                    position_key(cell): str(messages[-1].seq)})
                state.appended += sum(fresh)
                metrics.events.inc(sum(fresh))
            engine.process_pending()
            try:
                upstream.publish(engine)
            except Exception as exc:  # the bus is away: the next turn tells them again
                log.warning("telling other cells of cell %s's incidents failed (%s: %s)",
                            cell, type(exc).__name__, exc)
            if time.monotonic() - last_tick >= tick:
                last_tick = time.monotonic()
                now = datetime.now(UTC)
                wake = engine.next_wakeup()
                if wake is not None and wake <= now:
                    engine.ingest([Event(key=f"baton.tick:{cell}:{now.isoformat()}",
                                         type="baton.tick", entity="baton", time=now)])
                    engine.process_pending()
                duties.maybe(now)
                with contextlib.suppress(Exception):  # the bus is away: the lag is unknown
                    metrics.lag.set(max(0, bus.last_seq(cell) - int(
                        store.setting(position_key(cell)) or 0)))
        if leadership.lost.is_set():
            raise FencedError(f"cell {cell}: the lease of epoch {lease.epoch} was lost")
        return 0
    except FencedError as exc:
        say(f"fenced: {exc}; stepping down")
        return FENCED_EXIT
    finally:
        if engine is not None:
            engine.close()
        leadership.release()
        presence.close()
        bus.close()
        if health is not None:
            health.should_exit = True
        store.close()
