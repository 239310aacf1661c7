"""Helpers for the cluster tests: real PostgreSQL and NATS JetStream, Baton's processes
started as programs, an HTTP target that dedupes by idempotency key, and the
single-process run the cluster's results are compared with."""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from baton.cluster.launch import Launcher
from baton.config import load_config
from baton.connectors import build_connectors
from baton.engine.pipeline import Engine
from baton.execution.effects import Effect
from baton.scaffold import scaffold
from baton.store import open_store
from integration_support import loopback_client, wait_for

NATS_URL = os.environ.get("BATON_TEST_NATS", "nats://127.0.0.1:4222")


def require_nats() -> str:
    """A bus URL with a namespace of its own; skip without NATS, fail in CI."""
    from baton.cluster.bus import Bus

    ns = f"t{uuid.uuid4().hex[:10]}"
    url = f"{NATS_URL}?ns={ns}"
    try:
        Bus(url, timeout=3).close()
    except Exception as exc:
        message = f"NATS JetStream not reachable at {NATS_URL}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must start it (.ci/run)")
        pytest.skip(message)
    return url


def cluster_config(root: Path, target_url: str,
                   cells: list[dict[str, Any]] | None = None) -> Path:
    """The starter configuration, acting through the HTTP target, checkpoints on demand;
    split into `cells` when given."""
    scaffold(root)
    if cells is not None:
        org = root / "org.yaml"
        org.write_text(org.read_text() + "\n" + yaml.safe_dump({"cells": cells}))
    path = root / "baton.yaml"
    settings = yaml.safe_load(path.read_text())
    settings.setdefault("connectors", {}).update(
        {"default": "http", "http": {"url": target_url, "timeout_s": 10.0, "retries": 2,
                                     "backoff_s": 0.1}})
    settings.setdefault("audit", {})["checkpoint_minutes"] = None
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return root


class Cluster(Launcher):
    """Baton's processes of one cluster, started as programs; logs in `logs`."""

    def ready(self, name: str) -> bool:
        """A sequencer or worker answers /readyz, a replica /healthz."""
        return self.up(name, ready=name.startswith(("seq", "work")))

    def leading_name(self) -> str | None:
        row = self.leader()
        if row is None:
            return None
        return next((n for n, p in self.procs.items()
                     if p.pid == row["pid"] and p.poll() is None), None)

    def signal(self, name: str, sig: int) -> None:
        os.kill(self.procs[name].pid, sig)


class Client:
    """Posts events to the API replicas in turn, retrying on errors until accepted."""

    def __init__(self, urls: list[str], token: str) -> None:
        self.urls = urls
        self.token = token
        self.accepted: list[str] = []
        self.retries = 0

    def send(self, i: int, type_: str, entity: str, **data: Any) -> None:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = {"specversion": "1.0", "id": f"e{i}", "source": "load", "type": type_,
                "subject": entity, "time": now, "data": data}
        deadline = time.monotonic() + 120
        attempt = 0
        while True:
            url = self.urls[(i + attempt) % len(self.urls)]
            try:
                with loopback_client(url) as client:
                    r = client.post("/api/events", json=body,
                                    headers={"Authorization": f"Bearer {self.token}"})
                if r.status_code == 202:
                    self.accepted.append(f"load:e{i}")
                    return
            except Exception:
                pass
            attempt += 1
            self.retries += 1
            assert time.monotonic() < deadline, f"event {i} was never accepted"
            time.sleep(0.2)


def workload(client: Client, n: int, *, pace_s: float = 0.05) -> None:
    """Incidents that start and end: a restart of db, a scale-out of worker, per round."""
    for i in range(n):
        if i % 4 == 0:
            client.send(i, "service.down", "db")
        elif i % 4 == 1:
            client.send(i, "alert", "worker", metric="cpu_util", value=0.97)
        elif i % 4 == 2:
            client.send(i, "service.recovered", "db")
        else:
            client.send(i, "alert", "worker", metric="cpu_util", value=0.2)
        time.sleep(pace_s)


class RecordingSink:
    """Keeps the effects an engine sends, and sends none."""

    def __init__(self) -> None:
        self.effects: dict[str, Effect] = {}

    def submit(self, effects: list[Effect], *, fresh: bool = False) -> None:
        for e in effects:
            self.effects.setdefault(e.key, e)


def single_process_run(db: str, config: Path, scratch: Path, cell: str = "main"
                       ) -> tuple[tuple[int, str], Counter[tuple[str, str]]]:
    """The same accepted events, in the order the cluster (or one cell of it) folded them,
    through one engine in one process; its ledger head and the actions it decided per
    (kind, resource)."""
    cluster = open_store(db, create=False, cell=cell)
    events = []
    after = 0
    while chunk := cluster.folded(after=after, limit=5000):
        events += [e for _, _, e in chunk]
        after = chunk[-1][0]
    cluster.close()
    store = open_store(str(scratch))
    cfg = load_config(config)
    sink = RecordingSink()
    engine = Engine(cfg, store=store, live=True, sink=sink,
                    connectors=build_connectors(cfg, seed=cfg.settings.seed, store=store))
    engine.ingest(events)
    engine.process_pending()
    head = store.ledger_head()
    decided = outbox_actions(store)
    store.close()
    return head, decided


def outbox_actions(store: Any) -> Counter[tuple[str, str]]:
    """Every effect a store's engine decided (its outbox), per (kind, resource)."""
    from sqlalchemy import select

    from baton.store import schema

    with store.engine.connect() as conn:
        bodies = list(conn.scalars(select(schema.outbox.c.body)))
    actions = [Effect.from_json(b).action for b in bodies]
    return Counter((a.kind, a.resource) for a in actions)


def wait_settled(cluster: Cluster, keys: list[str], timeout: float = 120.0) -> None:
    """Until every key is processed and no effect waits in the queue or a worker."""
    from baton.cluster.status import status

    def settled() -> bool:
        store = open_store(cluster.db, create=False)
        try:
            known = {e.key for _, e in store.events(processed=True)}
            open_effects = store.open_effects()
        finally:
            store.close()
        if not set(keys) <= known or open_effects:
            return False
        report = status(cluster.db, cluster.bus)
        queue = report["queue"]
        return all(c["lag"] == 0 for c in report["cells"]) and not queue.get("pending") \
            and not queue.get("held")

    wait_for(settled, timeout=timeout, what="the cluster to settle", interval=0.5)
