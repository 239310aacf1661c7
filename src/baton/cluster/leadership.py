"""Leadership of a cell's engine: a lease with an epoch, renewed and checked, and a fence.

One row per cell in `leaders` says who leads, under which epoch, until when. A process
takes over only an expired lease (or its own), and each takeover raises the epoch. The
leader's store runs a fence inside every transaction that writes the engine's log, ledger
or state: a conditional update of the leader row for its own epoch. Once another process
has taken over, that update matches no row and the transaction is refused, so two
processes never both commit, not even one that was paused and wakes up later.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from baton.errors import BatonError
from baton.store import schema as t

#: the cell of an organisation that is not split into cells
MAIN_CELL = "main"
#: how long a lease lasts unless renewed; a standby takes over this long after a death
LEASE_TTL_S = 2.5
#: how often the leader renews (a fifth of the lease: four renewals may fail in a row)
RENEW_EVERY_S = 0.5
#: how often a standby looks whether the lease has expired
STANDBY_POLL_S = 0.2


class FencedError(BatonError):
    """This process's epoch is over: another process leads the cell now."""


@dataclass(frozen=True)
class Lease:
    """A lease held: the cell, the epoch it was taken under, and who holds it."""

    cell: str
    epoch: int
    owner: str


def process_id() -> str:
    """This process, for leases and the process table: host, pid and a nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def claim(db: Engine, cell: str, owner: str, *, now: float,
          ttl: float = LEASE_TTL_S) -> Lease | None:
    """Take the cell's lease under a new epoch when it is free or expired; else None."""
    c = t.leaders.c
    with db.begin() as conn:
        taken = conn.execute(update(t.leaders).where(
            (c.cell == cell) & ((c.expires < now) | (c.owner == owner))).values(
            epoch=c.epoch + 1, owner=owner, host=socket.gethostname(), pid=os.getpid(),
            expires=now + ttl, since=now, commits=0))
        if taken.rowcount == 1:
            epoch = int(conn.scalar(select(c.epoch).where(c.cell == cell)) or 0)
            return Lease(cell, epoch, owner)
        if conn.scalar(select(c.epoch).where(c.cell == cell)) is not None:
            return None  # held by someone else, unexpired
    try:
        with db.begin() as conn:
            conn.execute(insert(t.leaders).values(
                cell=cell, epoch=1, owner=owner, host=socket.gethostname(), pid=os.getpid(),
                expires=now + ttl, since=now, commits=0))
    except IntegrityError:
        return None  # another process created the row first
    return Lease(cell, 1, owner)


def renew(db: Engine, lease: Lease, *, now: float, ttl: float = LEASE_TTL_S) -> bool:
    """Extend the lease; False when its epoch is over (another process took over)."""
    c = t.leaders.c
    with db.begin() as conn:
        done = conn.execute(update(t.leaders).where(
            (c.cell == lease.cell) & (c.epoch == lease.epoch) & (c.owner == lease.owner))
            .values(expires=now + ttl))
        return done.rowcount == 1


def resign(db: Engine, lease: Lease) -> None:
    """Give the lease up at once, so a standby takes over without waiting for expiry."""
    c = t.leaders.c
    with db.begin() as conn:
        conn.execute(update(t.leaders).where(
            (c.cell == lease.cell) & (c.epoch == lease.epoch) & (c.owner == lease.owner))
            .values(expires=0.0))


def fence_for(lease: Lease) -> Callable[[Connection], None]:
    """The check a leader's store runs inside each of its writing transactions."""
    c = t.leaders.c
    stmt = update(t.leaders).where(
        (c.cell == lease.cell) & (c.epoch == lease.epoch) & (c.owner == lease.owner)
    ).values(commits=c.commits + 1)

    def check(conn: Connection) -> None:
        if conn.execute(stmt).rowcount != 1:
            holder = conn.execute(select(c.epoch, c.owner).where(c.cell == lease.cell)).first()
            now = f"epoch {holder[0]} ({holder[1]})" if holder else "nobody"
            raise FencedError(f"cell {lease.cell}: epoch {lease.epoch} of {lease.owner} is "
                              f"over, {now} leads now; this commit is refused")
    return check


def leaders(db: Engine, *, now: float | None = None) -> list[dict[str, Any]]:
    """Every cell's leader row, with whether its lease is live `now`."""
    now = time.time() if now is None else now
    with db.connect() as conn:
        rows = conn.execute(select(t.leaders).order_by(t.leaders.c.cell)).mappings().all()
    return [dict(r, live=float(r["expires"]) >= now) for r in rows]


class Leadership:
    """Keeps a lease: takes it (waiting as a standby), renews it on a thread, gives it up.

    `lost` is set when a renewal finds the epoch over; the fence refuses that process's
    commits in any case, so losing the lease between two renewals is safe.
    """

    def __init__(self, db: Engine, cell: str = MAIN_CELL, *, owner: str | None = None,
                 ttl: float = LEASE_TTL_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.cell = cell
        self.owner = owner or process_id()
        self.ttl = ttl
        self.clock = clock
        self.lease: Lease | None = None
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def try_take(self) -> Lease | None:
        """Take the lease if it is free; None when another process holds it."""
        self.lease = claim(self.db, self.cell, self.owner, now=self.clock(), ttl=self.ttl)
        return self.lease

    def wait(self, *, stop: threading.Event | None = None,
             on_wait: Callable[[dict[str, Any]], None] | None = None,
             poll: float = STANDBY_POLL_S) -> Lease | None:
        """Stand by until the lease is ours; None when `stop` is set first. `on_wait` is
        told once who holds it."""
        told = False
        while stop is None or not stop.is_set():
            lease = self.try_take()
            if lease is not None:
                return lease
            if on_wait is not None and not told:
                told = True
                holder = next((r for r in leaders(self.db) if r["cell"] == self.cell), {})
                on_wait(holder)
            time.sleep(poll)
        return None

    def keep(self, on_lost: Callable[[], None] | None = None,
             every: float | None = None) -> None:
        """Renew the lease on a thread until `release`; `on_lost` runs if it is lost."""
        interval = every if every is not None else min(RENEW_EVERY_S, self.ttl / 3)

        def loop() -> None:
            while not self._stop.wait(interval):
                lease = self.lease
                if lease is None:
                    return
                try:
                    ok = renew(self.db, lease, now=self.clock(), ttl=self.ttl)
                except Exception:  # the database is away: the next renewal may work
                    continue
                if not ok:
                    self.lost.set()
                    if on_lost is not None:
                        on_lost()
                    return

        self._thread = threading.Thread(target=loop, name="baton-lease", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stop renewing and give the lease up at once.

        A renewal already under way is waited for (up to the lease's length) before the
        lease is given up: committed after the resignation, it would hold the lease a
        whole term longer and keep the standby waiting."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.ttl)
        lease, self.lease = self.lease, None
        if lease is not None and not self.lost.is_set():
            with contextlib.suppress(Exception):  # the database is away: it expires
                resign(self.db, lease)
