"""What a cluster looks like now: leaders, epochs, lag per cell, processes, the queue."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, text

from baton.cluster.bus import Bus
from baton.cluster.leadership import MAIN_CELL, leaders
from baton.cluster.registry import processes
from baton.cluster.sequencer import position_key
from baton.store.port import Store


def other_cells(db: Engine) -> list[str]:
    """The cells besides `main` that have a schema of their own in this database."""
    if db.dialect.name != "postgresql":
        return []
    found = []
    with db.connect() as conn:
        schemas = list(conn.scalars(text(
            "SELECT schema_name FROM information_schema.schemata "
            "WHERE schema_name LIKE 'cell\\_%' ORDER BY schema_name")))
        for schema in schemas:
            try:
                found += list(conn.scalars(text(f'SELECT cell FROM "{schema}".leaders')))
            except Exception:  # a cell whose sequencer never led: nothing to show yet
                conn.rollback()
    return sorted(set(found) - {MAIN_CELL})


def _cell(store: Store, cell: str, bus: Bus | None, now: float) -> dict[str, Any]:
    from baton.app import sql_engine

    row = next((r for r in leaders(sql_engine(store), now=now) if r["cell"] == cell), {})
    at = int(store.setting(position_key(cell)) or 0)
    accepted = bus.last_seq(cell) if bus is not None else at
    return {"cell": cell, "leader": row.get("owner"), "host": row.get("host"),
            "pid": row.get("pid"), "epoch": int(row.get("epoch", 0)),
            "live": bool(row.get("live")), "position": at, "lag": max(0, accepted - at),
            "undecided": len(store.events(processed=False, limit=10_000)),
            "ledger_rows": store.ledger_head()[0]}


def status(db: str, bus_url: str | None) -> dict[str, Any]:
    """The cluster's state as one JSON-ready dict (keys: cells, processes, queue)."""
    from baton.store import open_store

    store = open_store(db, create=False)
    bus = Bus(bus_url) if bus_url else None
    try:
        return status_of(store, bus)
    finally:
        store.close()
        if bus is not None:
            bus.close()


def status_of(store: Store, bus: Bus | None) -> dict[str, Any]:
    """The cluster's state, read through a store on the main cell and the bus (if any)."""
    from baton.app import sql_engine
    from baton.store import open_store

    db = store.url
    now = time.time()
    cells = [_cell(store, MAIN_CELL, bus, now)]
    procs = processes(sql_engine(store))
    for cell in other_cells(sql_engine(store)):
        other = open_store(db, create=False, cell=cell)
        try:
            cells.append(_cell(other, cell, bus, now))
            procs += processes(sql_engine(other))
        finally:
            other.close()
    if len(cells) > 1 and cells[0]["epoch"] == 0:
        cells = cells[1:]  # the organisation is split: main is not one of its cells
    return {"cells": cells,
            "processes": [{"id": p["id"], "role": p["role"], "cell": p["cell"],
                           "state": p["state"], "host": p["host"], "pid": p["pid"],
                           "alive": p["alive"], "detail": p["detail"],
                           "seen_s_ago": round(now - float(p["seen"]), 1)}
                          for p in procs],
            "queue": bus.consumer_state() if bus is not None else {}}
