"""The demo: the itops scenario's simulated world driving the engine in virtual time."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from baton.config import load_config
from baton.connectors import build_connectors
from baton.engine.pipeline import Engine
from baton.errors import ConfigError
from baton.scenarios import scenario_path
from baton.scenarios.itops.world import ItopsWorld
from baton.sim.summary import summarize
from baton.store import Step, open_store
from baton.store.sql import SqlStore

DEMO_START = datetime(2026, 3, 2, tzinfo=UTC)


@dataclass(frozen=True)
class Tick:
    """Progress of a demo run after one step of virtual time."""

    now: datetime
    done: float  # fraction of the run
    engine: Engine


def fresh_demo_store(db: Path) -> SqlStore:
    """Open a new demo database, replacing an earlier demo's; never anything else."""
    if db.exists():
        old = open_store(db)
        mode = old.setting("mode")
        old.close()
        if mode != "demo":
            raise ConfigError("exists and is not a demo database; choose another --db",
                              file=str(db))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    return open_store(db)


def run_demo(*, db: Path, hours: float, seed: int, step_minutes: float = 5.0,
             speed: float | None = None,
             on_tick: Callable[[Tick], None] | None = None) -> dict[str, Any]:
    """Run the itops scenario for `hours` of virtual time; returns the batch summary.

    `speed` paces the run in virtual seconds per real second (None: as fast as possible).
    """
    root = scenario_path("itops")
    config = load_config(root)
    store = fresh_demo_store(db)
    store.commit(Step(settings={"mode": "demo", "clock": "virtual", "config": str(root),
                                "seed": str(seed)}))
    world = ItopsWorld(config.org, seed=seed, start=DEMO_START)
    engine = Engine(config, store=store,
                    connectors=build_connectors(config, world=world, seed=seed, store=store))
    step = timedelta(minutes=step_minutes)
    end = DEMO_START + timedelta(hours=hours)
    now = DEMO_START
    wall = time.perf_counter()
    try:
        while now < end:
            now = min(now + step, end)
            engine.ingest(world.events_until(now))
            engine.process_pending()
            answers = world.answer(sorted(engine.actor.open.values(), key=lambda e: e.id), now)
            if answers:
                engine.ingest(answers)
                engine.process_pending()
            if on_tick is not None:
                on_tick(Tick(now, (now - DEMO_START) / (end - DEMO_START), engine))
            if speed:
                target = wall + (now - DEMO_START).total_seconds() / speed
                pause = target - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
        result = summarize(engine)
        result.update(seed=seed, hours=hours, scenario="itops", db=str(db))
        return result
    finally:
        store.close()
