"""Benchmarks of the pipeline under an alert storm, and of a restart after a long run.

storm: one tier-0 service goes down with `dependents` services depending on it, and
`alerts` alerts on those dependents arrive in bursts from another thread while the
processor decides. Measured: ms from accepting the outage to its root-cause decision,
seconds to absorb the whole storm, the peak backlog (accepted, not yet processed) and
events per second.

recovery: the time a fresh engine takes to come up on a database after `events` processed
events (newest snapshot plus the tail of the log).
"""

from __future__ import annotations

import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from baton.bench import bench_config, bench_events
from baton.config import Config
from baton.connectors import build_connectors
from baton.engine.pipeline import Engine
from baton.model import Event
from baton.org.model import Organisation
from baton.store import open_store

START = datetime(2026, 3, 2, tzinfo=UTC)


def storm_config(dependents: int) -> Config:
    """The bench organisation with one tier-0 root and `dependents` services on it."""
    config = bench_config(1)
    data = config.org.model_dump()
    data["services"] = [{"id": "root", "tier": 0, "team": "platform", "hourly_cost": 1.0}] + [
        {"id": f"dep-{i:05d}", "tier": 2, "team": "platform", "hourly_cost": 1.0,
         "dependencies": ["root"]} for i in range(dependents)]
    return config.model_copy(update={"org": Organisation.model_validate(data)})


def storm_events(dependents: int, alerts: int) -> list[Event]:
    """The outage first, then alerts spread over the dependents, a few ms apart."""
    out = [Event(key="storm-root", type="service.down", entity="root", time=START)]
    for i in range(alerts):
        out.append(Event(key=f"storm-{i}", type="alert", entity=f"dep-{i % dependents:05d}",
                         time=START + timedelta(milliseconds=10 * (i + 1)),
                         attrs={"metric": "cpu_util", "value": 0.95}))
    return out


def run_storm(*, dependents: int = 2000, alerts: int = 100_000, burst: int = 5000,
              pause_s: float = 0.05) -> dict[str, Any]:
    """Accept the storm in bursts from one thread while the engine decides in another."""
    config = storm_config(dependents)
    load = storm_events(dependents, alerts)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "storm.db")
        engine = Engine(config, store=store, live=True, stamp=lambda e: e.due,
                        connectors=build_connectors(config, store=store))
        accepted = [0]
        first_accepted: list[float] = []

        def feed() -> None:
            for i in range(0, len(load), burst):
                engine.ingest(load[i:i + burst])
                if not first_accepted:
                    first_accepted.append(time.perf_counter())
                accepted[0] += len(load[i:i + burst])
                time.sleep(pause_s)

        root_at: list[float] = []

        def committed() -> None:  # the root-cause decision is the first one made durable
            if not root_at and engine.stats.decisions:
                root_at.append(time.perf_counter())

        engine.on_commit = committed
        feeder = threading.Thread(target=feed, name="storm-feed")
        feeder.start()
        processed, peak = 0, 0
        while processed < len(load):
            done = engine.process_pending(batch=500, limit=500)
            processed += done
            peak = max(peak, accepted[0] - processed)
            if not done:
                time.sleep(0.001)
        finished = time.perf_counter()
        feeder.join()
        engine.close()
        store.close()
    absorb = finished - first_accepted[0]
    return {"dependents": dependents, "alerts": alerts, "burst": burst,
            "root_decision_ms": round(1000 * (root_at[0] - first_accepted[0]), 1),
            "absorb_s": round(absorb, 2), "peak_backlog": peak,
            "events_per_s": round(len(load) / absorb, 1)}


def run_recovery(*, events: int = 1_000_000, services: int = 2000) -> dict[str, Any]:
    """Process `events`, then time a fresh engine coming up on the same database."""
    config = bench_config(services)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "recovery.db"
        store = open_store(db)
        engine = Engine(config, store=store, live=True, stamp=lambda e: e.due,
                        connectors=build_connectors(config, store=store))
        t0 = time.perf_counter()
        step = 20_000
        for i in range(0, events, step):
            engine.ingest(bench_events(min(step, events - i), services, seed=i + 1,
                                       prefix=f"r{i}-", start_hour=i // services))
            engine.process_pending(batch=500)
        engine.settle()
        build = time.perf_counter() - t0
        engine.close()
        store.close()
        started = time.perf_counter()
        again = Engine(config, store=open_store(db), live=True,
                       connectors=build_connectors(config))
        again.recover()
        seconds = time.perf_counter() - started
        info = dict(again.recovery)
        again.close()
        again.store.close()
    return {"events": events, "recovery_s": round(seconds, 2),
            "snapshot_at": info.get("snapshot_at"), "replayed_after_snapshot":
            info.get("replayed"), "build_s": round(build, 1)}
