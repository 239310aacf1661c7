"""What a cluster looks like now: leaders, epochs, lag per cell, processes, the queue."""

from __future__ import annotations

import time
from typing import Any

from baton.cluster.bus import Bus
from baton.cluster.leadership import MAIN_CELL, leaders
from baton.cluster.registry import processes
from baton.cluster.sequencer import position_key


def status(db: str, bus_url: str | None) -> dict[str, Any]:
    """The cluster's state as one JSON-ready dict (keys: cells, processes, queue)."""
    from baton.app import sql_engine
    from baton.store import open_store

    store = open_store(db, create=False)
    bus = Bus(bus_url) if bus_url else None
    try:
        sql = sql_engine(store)
        now = time.time()
        rows = {r["cell"]: r for r in leaders(sql, now=now)}
        procs = processes(sql)
        names = sorted({*rows, *(p["cell"] for p in procs if p["role"] == "sequencer")}
                       or {MAIN_CELL})
        cells = []
        for cell in names:
            row = rows.get(cell, {})
            at = int(store.setting(position_key(cell)) or 0)
            accepted = bus.last_seq(cell) if bus is not None else at
            cells.append({"cell": cell, "leader": row.get("owner"), "host": row.get("host"),
                          "pid": row.get("pid"), "epoch": int(row.get("epoch", 0)),
                          "live": bool(row.get("live")), "position": at,
                          "lag": max(0, accepted - at),
                          "undecided": len(store.events(processed=False, limit=10_000))})
        return {"cells": cells,
                "processes": [{"id": p["id"], "role": p["role"], "cell": p["cell"],
                               "state": p["state"], "host": p["host"], "pid": p["pid"],
                               "alive": p["alive"], "detail": p["detail"],
                               "seen_s_ago": round(now - float(p["seen"]), 1)}
                              for p in procs],
                "queue": bus.consumer_state() if bus is not None else {}}
    finally:
        store.close()
        if bus is not None:
            bus.close()
