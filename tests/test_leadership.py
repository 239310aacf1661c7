"""Leadership: one leader per cell under an epoch; a stale epoch cannot commit; standby."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from baton.cluster.leadership import FencedError, Leadership, claim, fence_for, leaders, renew
from baton.store import Step, open_store
from baton.store.sql import SqlStore
from integration_support import free_port, loopback_client, wait_for


def test_a_takeover_raises_the_epoch_and_fences_the_old_leader(store: SqlStore) -> None:
    first = claim(store.engine, "main", "a", now=100.0, ttl=3.0)
    assert first is not None and first.epoch == 1
    assert claim(store.engine, "main", "b", now=101.0, ttl=3.0) is None  # unexpired
    store.fence = fence_for(first)
    store.commit(Step(settings={"x": "1"}))  # the leader commits
    second = claim(store.engine, "main", "b", now=104.5, ttl=3.0)  # a's lease expired
    assert second is not None and second.epoch == 2
    with pytest.raises(FencedError, match="epoch 1 of a is over, epoch 2 \\(b\\) leads"):
        store.commit(Step(settings={"x": "2"}))
    with pytest.raises(FencedError):
        store.append_events(_events(1))
    assert store.setting("x") == "1"  # nothing of the refused commit landed
    assert store.events() == []
    assert not renew(store.engine, first, now=105.0)  # the old leader learns it lost
    assert renew(store.engine, second, now=105.0)
    store.fence = fence_for(second)
    store.commit(Step(settings={"x": "3"}))
    assert store.setting("x") == "3"


def test_release_hands_over_at_once_and_renewal_keeps_the_lease(store: SqlStore) -> None:
    now = [1000.0]
    a = Leadership(store.engine, owner="a", ttl=3.0, clock=lambda: now[0])
    b = Leadership(store.engine, owner="b", ttl=3.0, clock=lambda: now[0])
    assert a.try_take() is not None
    assert b.try_take() is None
    a.keep(every=0.05)
    now[0] += 10.0  # the clock moves past the first expiry: renewals keep it
    time.sleep(0.5)
    assert b.try_take() is None
    a.release()
    lease = b.try_take()
    assert lease is not None and lease.epoch == 2
    (row,) = leaders(store.engine, now=now[0])
    assert row["owner"] == "b" and row["live"] is True


def test_release_waits_for_a_renewal_under_way_before_giving_the_lease_up(
        store: SqlStore) -> None:
    """A renewal that commits after the resignation would hold the lease a whole term
    longer: release waits for it, so the standby takes over at once."""
    renewing = threading.Event()

    def clock() -> float:  # the lease thread is held inside a renewal for a moment
        if threading.current_thread().name == "baton-lease":
            renewing.set()
            time.sleep(0.3)
        return 1000.0

    a = Leadership(store.engine, owner="a", ttl=30.0, clock=clock)
    b = Leadership(store.engine, owner="b", ttl=30.0, clock=lambda: 1000.0)
    assert a.try_take() is not None
    a.keep(every=0.01)
    assert renewing.wait(timeout=10)
    a.release()  # while that renewal is still under way
    lease = b.try_take()
    assert lease is not None and lease.epoch == 2
    assert a._thread is not None and not a._thread.is_alive()


def _events(n: int) -> list:  # type: ignore[type-arg]
    from datetime import UTC, datetime

    from baton.model import Event

    return [Event(key=f"e{i}", type="service.down", entity="api",
                  time=datetime(2026, 1, 1, tzinfo=UTC)) for i in range(n)]


def _serve(starter_dir: Path, db: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "baton.cli", "serve", str(starter_dir), "--db", str(db),
             "--port", str(port), "--tick", "0.2"], stdout=out, stderr=subprocess.STDOUT)


def _up(port: int) -> bool:
    try:
        with loopback_client(f"http://127.0.0.1:{port}") as client:
            return client.get("/healthz").status_code == 200
    except Exception:
        return False


@contextmanager
def _leader_and_standby(tmp_path: Path, starter_dir: Path
                        ) -> Iterator[tuple[list[subprocess.Popen[bytes]], list[int], list[Path]]]:
    """Two `baton serve` on one database: the first leads, the second says it stands by."""
    db = tmp_path / "baton.db"
    ports = [free_port(), free_port()]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [_serve(starter_dir, db, ports[0], logs[0])]
    try:
        wait_for(lambda: _up(ports[0]), timeout=90, what="the first serve")
        procs.append(_serve(starter_dir, db, ports[1], logs[1]))
        wait_for(lambda: "standing by" in logs[1].read_text(), timeout=60,
                 what="the second serve to stand by")
        yield procs, ports, logs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_second_serve_stands_by_and_takes_over(tmp_path: Path, starter_dir: Path,
                                                 how: str) -> None:
    with _leader_and_standby(tmp_path, starter_dir) as ((first, second), ports, _logs):
        assert second.poll() is None and not _up(ports[1])
        os.kill(first.pid, getattr(signal, how))
        first.wait(timeout=30)
        gone = time.monotonic()
        wait_for(lambda: _up(ports[1]), timeout=60, what="the standby to take over")
        took = time.monotonic() - gone
        store = open_store(tmp_path / "baton.db")
        (row,) = leaders(store.engine)
        store.close()
        assert row["epoch"] == 2 and row["pid"] == second.pid
        # a SIGTERM'd leader gave its lease up: no wait for expiry at all
        print(f"{how}: the standby served {took:.2f} s after the leader ended")
        assert took < (5.0 if how == "SIGKILL" else 2.5) + 10.0  # + start-up on a loaded box


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_paused_serve_that_wakes_after_a_takeover_stops(tmp_path: Path,
                                                           starter_dir: Path) -> None:
    with _leader_and_standby(tmp_path, starter_dir) as ((first, second), ports, logs):
        os.kill(first.pid, signal.SIGSTOP)  # frozen: its lease runs out
        wait_for(lambda: _up(ports[1]), timeout=60, what="the standby to take over")
        os.kill(first.pid, signal.SIGCONT)
        assert first.wait(timeout=60) == 3, logs[0].read_text()
        assert "no longer leads" in logs[0].read_text()
        assert second.poll() is None and _up(ports[1])
