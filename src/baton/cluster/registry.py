"""The process table: every Baton process of a cluster says who it is and that it lives."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from typing import Any

from sqlalchemy import Engine, delete, select

from baton.store import schema as t

#: how often a process says it lives
HEARTBEAT_S = 1.0
#: a process silent this long is listed as gone
GONE_AFTER_S = 10.0


def upsert(db: Engine, row: dict[str, Any]) -> None:
    """Insert or update one process row."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if db.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(t.processes).values(row)
    stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={
        k: stmt.excluded[k] for k in ("state", "seen", "detail", "cell")})
    with db.begin() as conn:
        conn.execute(stmt)


class Presence:
    """One process's row, kept fresh on a thread until `close`."""

    def __init__(self, db: Engine, pid: str, role: str, cell: str, *,
                 state: str = "starting", detail: str = "") -> None:
        self.db = db
        self.row: dict[str, Any] = {
            "id": pid, "role": role, "cell": cell, "host": socket.gethostname(),
            "pid": os.getpid(), "started": time.time(), "seen": time.time(),
            "state": state, "detail": detail}
        self._stop = threading.Event()
        self._beat()
        self._thread = threading.Thread(target=self._loop, name="baton-presence",
                                        daemon=True)
        self._thread.start()

    def set(self, state: str, detail: str = "") -> None:
        """Say what this process does now (leading, standby, serving, working)."""
        self.row.update(state=state, detail=detail)
        self._beat()

    def _beat(self) -> None:
        self.row["seen"] = time.time()
        with contextlib.suppress(Exception):  # the database is away; the next beat tells
            upsert(self.db, dict(self.row))

    def _loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            self._beat()

    def close(self) -> None:
        """Stop, and take this process off the table."""
        self._stop.set()
        with contextlib.suppress(Exception), self.db.begin() as conn:
            conn.execute(delete(t.processes).where(t.processes.c.id == self.row["id"]))


def processes(db: Engine) -> list[dict[str, Any]]:
    """Every process row, with whether it was seen lately."""
    now = time.time()
    with db.connect() as conn:
        rows = conn.execute(select(t.processes).order_by(
            t.processes.c.role, t.processes.c.cell, t.processes.c.id)).mappings().all()
    return [dict(r, alive=now - float(r["seen"]) < GONE_AFTER_S) for r in rows]
