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
from baton.escalation import routing
from baton.model import Escalation
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


class DemoRun:
    """The itops world and an engine on a fresh demo database, stepped in virtual time."""

    def __init__(self, *, db: Path, seed: int) -> None:
        root = scenario_path("itops")
        self.config = load_config(root)
        self.store = fresh_demo_store(db)
        self.store.commit(Step(settings={"mode": "demo", "clock": "virtual",
                                         "config": str(root), "seed": str(seed)}))
        self.world = ItopsWorld(self.config.org, seed=seed, start=DEMO_START)
        self.engine = Engine(self.config, store=self.store, connectors=build_connectors(
            self.config, world=self.world, seed=seed, store=self.store))
        self.seed = seed
        self.db = db
        self.now = DEMO_START
        self.real_people: frozenset[str] = frozenset()  # never played by the world
        # ids of open escalations a real person has in front of them: the world waits
        self.held: Callable[[list[Escalation]], set[str]] = lambda _open: set()

    def paused(self, escalations: list[Escalation]) -> frozenset[str]:
        """Escalations the simulated people leave alone: held by a real person, or under
        a kill switch (people stop answering while it is on)."""
        killed = self.engine.actor.killed
        stopped = {e.id for e in escalations if killed.get("*") or killed.get(e.domain)}
        return frozenset(stopped | self.held(escalations))

    def step(self, until: datetime) -> None:
        """Let the world run to `until`: its events, the engine's decisions, its answers."""
        self.now = until
        self.engine.ingest(self.world.events_until(until))
        self.engine.process_pending()
        waiting = sorted(self.engine.actor.open.values(), key=lambda e: e.id)
        answers = self.world.answer(waiting, until, paused=self.paused(waiting),
                                    absent=self.real_people)
        if answers:
            self.engine.ingest(answers)
            self.engine.process_pending()

    def summary(self, hours: float) -> dict[str, Any]:
        """The batch summary of the run so far."""
        result = summarize(self.engine)
        result.update(seed=self.seed, hours=hours, scenario="itops", db=str(self.db))
        return result


def run_demo(*, db: Path, hours: float, seed: int, step_minutes: float = 5.0,
             speed: float | None = None,
             on_tick: Callable[[Tick], None] | None = None) -> dict[str, Any]:
    """Run the itops scenario for `hours` of virtual time; returns the batch summary.

    `speed` paces the run in virtual seconds per real second (None: as fast as possible).
    """
    run = DemoRun(db=db, seed=seed)
    step = timedelta(minutes=step_minutes)
    end = DEMO_START + timedelta(hours=hours)
    wall = time.perf_counter()
    try:
        while run.now < end:
            run.step(min(run.now + step, end))
            if on_tick is not None:
                on_tick(Tick(run.now, (run.now - DEMO_START) / (end - DEMO_START), run.engine))
            if speed:
                target = wall + (run.now - DEMO_START).total_seconds() / speed
                pause = target - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
        return run.summary(hours)
    finally:
        run.store.close()


@dataclass(frozen=True)
class FirstPage:
    """Who the demo's world pages first among people with approver access, and when."""

    person: str
    at: datetime
    step: str
    escalation: str


def first_paged_approver(*, seed: int, hours: float = 12.0) -> FirstPage | None:
    """Look ahead in a scratch run: the first approver (not admin) an escalation pages
    while they are on call for their team's rotation."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="baton-lookahead-") as folder:
        run = DemoRun(db=Path(folder) / "lookahead.db", seed=seed)
        org = run.config.org
        try:
            end = DEMO_START + timedelta(hours=hours)
            while run.now < end:
                run.step(run.now + timedelta(minutes=5))
                for esc in sorted(run.engine.actor.open.values(), key=lambda e: e.created):
                    for entry in esc.history:  # paged while on call for their rotation
                        at = datetime.fromisoformat(entry["paged_at"])
                        for pid in entry["candidates"]:
                            if pid in org.person and org.person[pid].access == "approver" \
                                    and routing.on_call(org, pid, at):
                                return FirstPage(pid, at, entry["step"], esc.id)
            return None
        finally:
            run.engine.close()
            run.store.close()
