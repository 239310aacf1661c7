"""An API replica of a cluster: the same API and dashboard, holding no authority.

It accepts an event by publishing it durably to the cell's stream (message id = the
event's idempotency key) and keeping it in the database's `accepted` table, and answers
only once both are done. It never writes the log, the ledger or the engine's state: its
store's fence refuses any such write. What it shows comes from the database and from a
follower engine kept level with what the cell's sequencer has processed.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from baton.cluster.bus import Bus
from baton.cluster.follower import Follower
from baton.cluster.leadership import MAIN_CELL
from baton.engine.pipeline import Engine
from baton.errors import BatonError
from baton.model import Event
from baton.org.cells import Cells
from baton.store import schema as t
from baton.store.port import Store
from baton.web.errors import ApiError
from baton.web.host import BATCH, EngineHost

#: how long a request of a few events waits to see them decided (they are durable first)
DECIDE_WAIT_S = 10.0
#: how often the follower looks for newly processed events
FOLLOW_EVERY_S = 0.25


class ReplicaWriteError(BatonError):
    """A replica tried to write what only a cell's sequencer writes."""


def _refuse(_conn: object) -> None:
    raise ReplicaWriteError("an API replica does not write the log or the ledger; events "
                            "go through the bus to the cell's sequencer")


class ReplicaHost(EngineHost):
    """An EngineHost whose events go to the bus and whose engine only follows."""

    bus: Bus

    def __init__(self, engine: Engine, bus: Bus, *, cell: str = MAIN_CELL,
                 reports: Path | None = None) -> None:
        engine.store.fence = _refuse
        self.follower = Follower(engine)
        self.bus = bus
        self.cell = cell
        self.cells = Cells(engine.config.org)
        self._stores: dict[str, Store] = {}
        live, engine.live = engine.live, False  # no processor thread of its own
        super().__init__(engine, reports=reports)
        engine.live = live
        self.follower.catch_up()
        self._following = threading.Thread(target=self._follow, name="baton-follower",
                                           daemon=True)
        self._following.start()

    def _follow(self) -> None:
        while not self._stop.wait(FOLLOW_EVERY_S):
            try:
                self.run(lambda _engine: self.follower.catch_up())
            except Exception:  # the database went away; the next turn tries again
                time.sleep(1.0)

    def submit(self, events: list[Event]) -> list[bool]:
        """Publish durably to the bus and keep in the database; per event, False for a
        duplicate. A request of up to BATCH events then waits (a while) to see them
        decided."""
        for i, event in enumerate(events):
            self.engine.validate(event, f"event {i + 1}")
        if not events:
            return []
        fresh: dict[str, bool] = {}
        by_cell: dict[str, list[Event]] = {}
        for event in events:  # routed by entity: a service's events go to its cell
            by_cell.setdefault(self.cells.cell_of(event.entity, self.cell), []).append(event)
        for cell, group in by_cell.items():
            try:
                answers = self.bus.publish_events(cell, [(e.key, e.to_json().encode())
                                                         for e in group])
            except Exception as exc:  # the bus is away: nothing is acknowledged
                raise ApiError(503, f"the bus ({self.bus.server}) did not store the events "
                               f"({type(exc).__name__}: {exc}) for cell {cell!r}; retry "
                               "with the same keys (duplicates are dropped)") from exc
            fresh.update(zip((e.key for e in group), answers, strict=True))
        self._keep(events, by_cell)
        if len(events) <= BATCH:
            self.drain([e.key for e in events])
        return [fresh[e.key] for e in events]

    def _keep(self, events: list[Event], by_cell: dict[str, list[Event]]) -> None:
        db = self.store.engine  # type: ignore[attr-defined]
        dialect = postgresql if db.dialect.name == "postgresql" else sqlite
        now = time.time()
        cell_of = {e.key: cell for cell, group in by_cell.items() for e in group}
        with db.begin() as conn:
            conn.execute(dialect.insert(t.accepted).on_conflict_do_nothing(
                index_elements=["key"]), [{"key": e.key, "cell": cell_of[e.key], "at": now,
                                           "body": e.to_json()} for e in events])

    def _cell_store(self, cell: str) -> Store:
        if cell == self.cell:
            return self.store
        if cell not in self._stores:
            from baton.store import open_store

            self._stores[cell] = open_store(self.store.url, create=True, cell=cell)
        return self._stores[cell]

    def close(self) -> None:
        """Stop following; close the other cells' stores."""
        super().close()
        for store in self._stores.values():
            store.close()

    def decided(self, keys: list[str]) -> set[str]:
        """Which of these keys their cell's sequencer has appended and processed."""
        query = select(t.events.c.key).where(t.events.c.key.in_(keys),
                                             t.events.c.processed.is_(True))
        found: set[str] = set()
        for cell in {*self.cells.ids, self.cell}:
            db = self._cell_store(cell).engine  # type: ignore[attr-defined]
            with db.connect() as conn:
                found.update(conn.scalars(query))
            if len(found) >= len(set(keys)):
                break
        return found

    def drain(self, keys: list[str] | None = None) -> None:
        """Wait until these events are decided (at most DECIDE_WAIT_S), then follow."""
        deadline = time.monotonic() + DECIDE_WAIT_S
        while keys and len(self.decided(keys)) < len(set(keys)):
            if time.monotonic() > deadline:
                return  # durable already: the sequencer decides it when it can
            time.sleep(0.05)
        self.run(lambda _engine: self.follower.catch_up())


def replica_engine(db: str, config_dir: Path | None, cell: str = MAIN_CELL) -> Engine:
    """An engine for a replica: the cell's configuration, no recovery, no workers."""
    from baton.app import config_for
    from baton.connectors import build_connectors
    from baton.store import open_store

    store = open_store(db, create=config_dir is not None, cell=cell)
    config = config_for(store, config_dir)
    return Engine(config, store=store, live=True, connectors=build_connectors(
        config, seed=config.settings.seed, store=store))
