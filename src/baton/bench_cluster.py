"""`baton bench cluster`: a cluster's throughput and failover time, measured on this
machine with real PostgreSQL, NATS JetStream and Baton's own processes.

- events/s accepted (durable on the bus) and decided, with 1 and 2 API replicas;
- actions/s carried out through a target that answers in 200 ms, with 1 and 2 workers;
- the time a standby takes to lead after the leader is killed, over repeated kills.
"""

from __future__ import annotations

import os
import signal
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console
from rich.table import Table

from baton.cluster.launch import Launcher, Target
from baton.errors import BatonError
from baton.scaffold import scaffold
from baton.store import open_store

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
NATS = "nats://127.0.0.1:4222"


def _until(probe: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise BatonError(f"bench: timed out waiting for {what}")
        time.sleep(0.05)


#: the two cells of the benchmark's split organisation
TWO_CELLS = [{"id": "core", "services": ["db", "api", "worker"]},
             {"id": "edge", "services": ["reports"]}]


class _Cluster(Launcher):
    def __init__(self, root: Path, db: str, bus: str, target: str,
                 cells: list[dict[str, Any]] | None = None) -> None:
        config = root / "cfg"
        scaffold(config)
        self.cells = [c["id"] for c in cells] if cells else ["main"]
        if cells:
            org = config / "org.yaml"
            org.write_text(org.read_text() + "\n" + yaml.safe_dump({"cells": cells}))
        path = config / "baton.yaml"
        settings = yaml.safe_load(path.read_text())
        settings.setdefault("connectors", {}).update(
            {"default": "http", "http": {"url": target, "timeout_s": 10.0, "retries": 0}})
        settings.setdefault("audit", {})["checkpoint_minutes"] = None
        path.write_text(yaml.safe_dump(settings, sort_keys=False))
        super().__init__(config, db, bus, root)

    def processed(self) -> int:
        total = 0
        for cell in self.cells:
            store = open_store(self.db, create=False, cell=cell)
            try:
                total += store.counts()["processed"]
            finally:
                store.close()
        return total


@contextmanager
def _cluster(pg_admin: str, nats: str, target: str, *, replicas: int, workers: int,
             sequencers: int = 1, cells: list[dict[str, Any]] | None = None
             ) -> Iterator[_Cluster]:
    import psycopg

    name = f"baton_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(pg_admin, autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE DATABASE "{name}"')
    db = pg_admin.rsplit("/", 1)[0] + f"/{name}"
    with tempfile.TemporaryDirectory() as tmp:
        cluster = _Cluster(Path(tmp), db, f"{nats}?ns=b{uuid.uuid4().hex[:8]}", target,
                           cells)
        try:
            for cell in cluster.cells:
                cluster.start(f"seq0-{cell}", "sequencer", "--cell", cell)
                _until(lambda c=cell: cluster.up(f"seq0-{c}", ready=True),  # type: ignore[misc]
                       90, "the sequencer to lead")
            for i in range(1, sequencers):
                cluster.start(f"seq{i}", "sequencer", "--cell", cluster.cells[0])
            for i in range(workers):
                cluster.start(f"work{i}", "worker")
            for i in range(replicas):
                cluster.start(f"api{i}", "serve", "--cell", cluster.cells[0])
            for n in list(cluster.procs):
                _until(lambda n=n: cluster.up(n), 90, n)  # type: ignore[misc]
            yield cluster
        finally:
            cluster.stop()
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()


def _token(cluster: _Cluster) -> str:
    from baton.auth.service import Auth
    from baton.auth.tables import AuthStore
    from baton.config import load_config

    store = open_store(cluster.db, create=False)
    try:
        return Auth(AuthStore(store.engine),
                    load_config(cluster.config).org).create_token("ana")[1]
    finally:
        store.close()


def _load(cluster: _Cluster, events: list[dict[str, Any]], *, clients: int = 4,
          batch: int = 20) -> tuple[float, float]:
    """Post `events` from `clients` threads across the replicas; (accepted/s, decided/s)."""
    token = _token(cluster)
    urls = [f"http://127.0.0.1:{p}" for n, p in cluster.ports.items() if n.startswith("api")]
    chunks = [events[i:i + batch] for i in range(0, len(events), batch)]
    base = cluster.processed()
    started = time.perf_counter()

    def post(which: int) -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60,
                          trust_env=False) as client:
            for j in range(which, len(chunks), clients):
                url = urls[j % len(urls)]
                while client.post(f"{url}/api/events", json=chunks[j]).status_code != 202:
                    time.sleep(0.1)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = time.perf_counter() - started
    _until(lambda: cluster.processed() - base >= len(events), 600, "every event decided")
    decided = time.perf_counter() - started
    return len(events) / accepted, len(events) / decided


def _events(n: int, *, kinds: str = "mixed") -> list[dict[str, Any]]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    run = uuid.uuid4().hex[:6]
    out = []
    for i in range(n):
        if kinds == "actions":  # each pair opens and closes an incident: one restart
            kind, entity = ("service.down", "db") if i % 2 == 0 else \
                ("service.recovered", "db")
            data: dict[str, Any] = {}
        elif kinds == "split":  # half for each cell of TWO_CELLS
            kind, entity = "alert", ("worker" if i % 2 == 0 else "reports")
            data = {"metric": "cpu_util", "value": 0.2 + (i % 5) / 100}
        else:
            kind, entity, data = "alert", "worker", {"metric": "cpu_util",
                                                     "value": 0.2 + (i % 5) / 100}
        out.append({"specversion": "1.0", "id": f"{run}-{i}", "source": "bench",
                    "type": kind, "subject": entity, "time": now, "data": data})
    return out


def _actions_per_s(cluster: _Cluster, target: Target, pairs: int) -> float:
    before = target.requests
    started = time.perf_counter()
    _load(cluster, _events(pairs * 2, kinds="actions"), clients=4, batch=10)
    _until(lambda: target.requests - before >= pairs, 600, "every action carried out")
    return pairs / (time.perf_counter() - started)


def _failovers(pg_admin: str, nats: str, target: str, kills: int) -> list[float]:
    times = []
    with _cluster(pg_admin, nats, target, replicas=0, workers=0, sequencers=2) as cluster:
        spare = 2
        for _ in range(kills):
            _until(lambda: cluster.leader() is not None, 60, "a leader")
            row = cluster.leader()
            assert row is not None
            name = next(n for n, p in cluster.procs.items() if p.pid == row["pid"])
            _until(cluster.standby_ready, 60, "a standby")
            time.sleep(1.0)
            os.kill(cluster.procs[name].pid, signal.SIGKILL)
            killed = time.perf_counter()
            _until(lambda r=row: (cluster.leader() or {}).get("epoch", 0)  # type: ignore[misc]
                   > r["epoch"], 60, "a takeover")
            times.append(time.perf_counter() - killed)
            cluster.start(f"seq{spare}", "sequencer")
            spare += 1
    return times


def run_cluster_bench(*, events: int = 1000, pairs: int = 100, kills: int = 10,
                      pg_admin: str = PG_ADMIN, nats: str = NATS) -> dict[str, Any]:
    """Every figure of `baton bench cluster`."""
    fast, slow = Target(), Target(0.2)
    result: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}, "events": events,
                              "actions": pairs}
    for replicas in (1, 2):
        with _cluster(pg_admin, nats, fast.url, replicas=replicas, workers=1) as cluster:
            accepted, decided = _load(cluster, _events(events))
            result[f"replicas_{replicas}"] = {"accepted_per_s": round(accepted, 1),
                                              "decided_per_s": round(decided, 1)}
    for workers in (1, 2):
        with _cluster(pg_admin, nats, slow.url, replicas=1, workers=workers) as cluster:
            result[f"workers_{workers}"] = {
                "actions_per_s": round(_actions_per_s(cluster, slow, pairs), 2)}
    for count, cells in ((1, None), (2, TWO_CELLS)):
        with _cluster(pg_admin, nats, fast.url, replicas=2, workers=1,
                      cells=cells) as cluster:
            accepted, decided = _load(cluster, _events(events, kinds="split"))
            result[f"cells_{count}"] = {"accepted_per_s": round(accepted, 1),
                                        "decided_per_s": round(decided, 1)}
    times = _failovers(pg_admin, nats, fast.url, kills)
    result["failover_s"] = {"kills": len(times), "min": round(min(times), 2),
                            "median": round(statistics.median(times), 2),
                            "max": round(max(times), 2), "all": [round(t, 2) for t in times]}
    return result


def print_cluster_bench(result: dict[str, Any], console: Console) -> None:
    """The figures as a table."""
    table = Table(title=f"cluster on this machine ({result['machine']['cpus']} CPUs)")
    table.add_column("measure")
    table.add_column("1")
    table.add_column("2")
    for label, key, field in (("events/s accepted (API replicas)", "replicas", "accepted_per_s"),
                              ("events/s decided (API replicas)", "replicas", "decided_per_s"),
                              ("actions/s, 200 ms target (workers)", "workers",
                               "actions_per_s"),
                              ("events/s decided (cells)", "cells", "decided_per_s")):
        table.add_row(label, str(result[f"{key}_1"][field]), str(result[f"{key}_2"][field]))
    console.print(table)
    f = result["failover_s"]
    console.print(f"failover over {f['kills']} kills: min {f['min']} s, median {f['median']} s, "
                  f"max {f['max']} s")
