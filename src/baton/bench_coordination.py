"""`baton bench coordination`: what coordination costs per event as the organisation grows.

Each size is an organisation of N teams generated from the bundled itops one (the same
generator the simulation's hierarchy model uses, `baton.sim.orgscale.scaled_config`: the
itops teams copied with their people, rotations and layered services, managers added by
span of control, a share of dependencies pointing to other copies), with the itops
settings, playbooks and Cedar policies. Every team gets the same seeded event mix:
hourly latency samples with one regression, CPU alerts with one crossing, two deploys
(one bad), two tickets (one that outlives its SLA warning), and one outage of its most
depended-on service followed by error-rate alerts from its dependents. The real engine
processes the log from a SQLite store; each size runs in a fresh process so its peak
memory is its own.

Two slopes are reported for CPU and for messages, each the least-squares slope of a log
cost against log(teams). Per event: 0 means the cost of one event does not depend on the
size of the organisation. Total (the whole run's cost): 1 means the cost grows linearly
with the organisation; the goal is at most 1.05 from 10 to 1,000 teams.
"""

from __future__ import annotations

import random
import resource
import sys
import tempfile
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from baton.config import Config, load_config
from baton.connectors import build_connectors
from baton.engine.pipeline import Engine
from baton.model import Event
from baton.org.graph import ServiceGraph
from baton.org.loader import check_references
from baton.scenarios import scenario_path
from baton.sim.measure import loglog_slope
from baton.sim.orgscale import base_id, scaled_config
from baton.sim.params import load_params
from baton.store import open_store
from baton.yamlsrc import Located

GOAL = 1.05  # the largest acceptable slope of the run's total cost against teams
START = datetime(2026, 3, 3, tzinfo=UTC)  # a Tuesday, clear of the itops change freeze
DEPENDENTS = 6  # dependents that alert after a team's outage
SOURCE = "bench-coordination"
COSTS = ("cpu_ms_per_event", "messages_per_event")
_BASES: dict[str, tuple[Config, dict[str, int]]] = {}


def _base(scenario: str = "itops") -> tuple[Config, dict[str, int]]:
    """The scenario's configuration and how many services depend on each of its services."""
    found = _BASES.get(scenario)
    if found is None:
        config = load_config(scenario_path(scenario))
        graph = ServiceGraph(config.org.services)
        fanout = {s.id: graph.blast_radius(s.id) for s in config.org.services}
        found = _BASES[scenario] = (config, fanout)
    return found


def bench_org(teams: int, *, seed: int = 1, shared: float | None = None) -> Config:
    """The itops configuration with an organisation of `teams` teams, cross-checked.

    `shared` is the share of dependencies that point to another copy of the owning team
    (None: the simulation's `shared_dependency_share`, as its hierarchy model uses).
    """
    base, _ = _base()
    params = load_params()
    share = params.p("shared_dependency_share") if shared is None else shared
    config = scaled_config(base, teams, params.p("span_of_control"), share, seed=seed)
    check_references(config.org, Located({}, {}, f"generated organisation ({teams} teams)"))
    return config


def _nearest_dependents(graph: ServiceGraph, root: str, count: int) -> list[str]:
    """Up to `count` services that depend on `root`, nearest first (breadth first)."""
    found: list[str] = []
    seen = {root}
    queue = deque([root])
    while queue and len(found) < count:
        for up in sorted(graph.graph.predecessors(queue.popleft())):
            if up not in seen:
                seen.add(up)
                found.append(up)
                queue.append(up)
    return found[:count]


class _Team:
    """The events of one team: the same mix for every team, its own seeded draws."""

    def __init__(self, team: str, services: list[str], graph: ServiceGraph,
                 fanout: dict[str, int], *, seed: int, hours: float) -> None:
        self.team, self.services, self.graph = team, services, graph
        self.fanout = fanout
        self.rng = random.Random(f"{seed}:coordination:{team}")
        self.span = hours * 3600.0
        self.out: list[Event] = []

    def at(self, seconds: float) -> datetime:
        return START + timedelta(seconds=round(seconds))

    def emit(self, type_: str, entity: str, seconds: float, key: str, **attrs: Any) -> None:
        self.out.append(Event(key=key, type=type_, entity=entity, time=self.at(seconds),
                              attrs=attrs, source=SOURCE))

    def when(self, room: float) -> float:
        """A time in the run that leaves `room` seconds before its end (when it can)."""
        return self.rng.uniform(0.0, max(1.0, self.span - room))

    def events(self) -> list[Event]:
        rng = self.rng
        self._samples()
        low, high = rng.sample(self.services, 2)
        for sid, value in ((low, 0.72), (high, 0.95)):
            t = self.when(0)
            self.emit("alert", sid, t, f"alert:{sid}:cpu_util:{round(t)}", metric="cpu_util",
                      value=value, severity="warning")
        self._deploys()
        self._tickets()
        self._outage()
        return self.out

    def _samples(self) -> None:
        """Hourly latency samples of every service; one doubles ten minutes after one."""
        rng = self.rng
        count = max(1, round(self.span / 3600.0))
        every = self.span / count
        phase = rng.uniform(0.0, every)
        slow, slow_at = rng.choice(self.services), rng.randrange(count)
        for sid in self.services:
            base = rng.uniform(20.0, 250.0)
            for k in range(count):
                t = phase + k * every
                self.emit("metric", sid, t, f"metric:{sid}:latency_ms:{k}", metric="latency_ms",
                          value=round(base * rng.uniform(0.95, 1.05), 1), unit="ms")
                if sid == slow and k == slow_at:
                    self.emit("metric", sid, t + 600, f"metric:{sid}:latency_ms:{k}:slow",
                              metric="latency_ms", value=round(base * 2.6, 1), unit="ms")

    def _deploys(self) -> None:
        """A good deploy, and a bad one whose error rate alerts twice."""
        good, bad = self.rng.sample(self.services, 2)
        t = self.when(0)
        self.emit("deploy", good, t, f"deploy:{good}:1.4.2", version="1.4.2",
                  previous="1.4.1", author=f"{self.team}-dev", change="PR-1001")
        t = self.when(900)
        self.emit("deploy", bad, t, f"deploy:{bad}:2.1.0", version="2.1.0", previous="2.0.9",
                  author=f"{self.team}-dev", change="PR-1002")
        for i, value in enumerate((0.12, 0.14), start=1):
            self.emit("alert", bad, t + 300 * i, f"alert:{bad}:error_rate:deploy:{i}",
                      metric="error_rate", value=value, severity="warning")

    def _tickets(self) -> None:
        """A P3 ticket resolved in time, and a P1 that passes its SLA warning."""
        for k, priority, minutes in ((1, "P3", 120), (2, "P1", 90)):
            tid = f"TCK-{self.team}-{k}"
            t = self.when(minutes * 60 + 60)
            self.emit("ticket.opened", tid, t, f"ticket.opened:{tid}", priority=priority,
                      service=self.rng.choice(self.services), team=self.team,
                      subject="customers report errors", channel="email")
            self.emit("ticket.resolved", tid, t + minutes * 60, f"ticket.resolved:{tid}",
                      priority=priority, team=self.team)

    def _outage(self) -> None:
        """The team's most depended-on service goes down; its dependents alert; it recovers."""
        root = max(self.services, key=lambda s: (self.fanout.get(base_id(s), 0), s))
        t = self.when(2400)
        self.emit("service.down", root, t, f"service.down:{root}", cause="process crashed",
                  team=self.team)
        near = _nearest_dependents(self.graph, root, DEPENDENTS)
        for i in range(DEPENDENTS):
            sid = near[i] if i < len(near) else root
            value = 0.3 if i < len(near) else 1.0
            for repeat in (0, 1):
                self.emit("alert", sid, t + 60 * (i + 1) + 300 * repeat,
                          f"alert:{sid}:error_rate:outage:{root}:{i}:{repeat}",
                          metric="error_rate", value=value, severity="critical")
        self.emit("service.recovered", root, t + 1800, f"service.recovered:{root}",
                  downtime_minutes=30.0)


def bench_events(config: Config, *, seed: int = 1, hours: float = 12.0) -> list[Event]:
    """Every team's event mix, in time order."""
    _, fanout = _base()
    graph = ServiceGraph(config.org.services)
    owned: dict[str, list[str]] = {}
    for s in config.org.services:
        owned.setdefault(s.team, []).append(s.id)
    events: list[Event] = []
    for team in config.org.teams:
        services = sorted(owned.get(team.id, []))
        if len(services) < 2:
            continue
        events += _Team(team.id, services, graph, fanout, seed=seed, hours=hours).events()
    events.sort(key=lambda e: (e.time, e.key))
    return events


def _peak_mib() -> float:
    """This process's peak resident memory in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _warm_up(seed: int) -> None:
    """Run a two-team organisation once, so first-use costs (imports, Cedar, compiled SQL
    and validators) do not land on the smallest size's figures."""
    config = bench_org(2, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "warm-up.db")
        try:
            engine = Engine(config, store=store,
                            connectors=build_connectors(config, seed=seed, store=store))
            engine.ingest(bench_events(config, seed=seed, hours=2.0))
            engine.process_pending(batch=500)
        finally:
            store.close()


def measure_size(teams: int, seed: int = 1, hours: float = 12.0, shared: float | None = None,
                 profile: str | None = None, warm_up: bool = True) -> dict[str, Any]:
    """One size: build, generate, ingest, then time the engine on the whole log."""
    if warm_up:
        _warm_up(seed)
    wall = time.perf_counter()
    config = bench_org(teams, seed=seed, shared=shared)
    events = bench_events(config, seed=seed, hours=hours)
    built = time.perf_counter() - wall
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "coordination.db")
        try:
            engine = Engine(config, store=store,
                            connectors=build_connectors(config, seed=seed, store=store))
            t0 = time.perf_counter()
            for i in range(0, len(events), 5000):
                engine.ingest(events[i:i + 5000])
            ingest_s = time.perf_counter() - t0
            del events
            profiler = None
            if profile is not None:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            cpu0, t1 = time.process_time(), time.perf_counter()
            engine.process_pending(batch=500)
            cpu = time.process_time() - cpu0
            process_s = time.perf_counter() - t1
            if profiler is not None and profile is not None:
                profiler.disable()
                profiler.dump_stats(profile)
        finally:
            store.close()
    s = engine.stats
    n = max(1, s.events)
    org = config.org
    return {
        "teams": len(org.teams), "services": len(org.services), "people": len(org.people),
        "events": s.events, "situations": s.situations, "decisions": s.decisions,
        "escalations": s.escalations, "correlated": s.correlated, "messages": s.messages,
        "cpu_ms_per_event": round(cpu * 1000.0 / n, 4),
        "messages_per_event": round(s.messages / n, 4),
        "messages_per_situation": round(s.messages / max(1, s.situations), 4),
        "ledger_head": engine.ledger.head,
        "peak_memory_mib": round(_peak_mib(), 1),
        "seconds": {"build": round(built, 2), "ingest": round(ingest_s, 2),
                    "process": round(process_s, 2), "cpu": round(cpu, 2),
                    "wall": round(time.perf_counter() - wall, 2)},
    }


def slopes(points: list[dict[str, Any]], *, total: bool = False) -> dict[str, float]:
    """Log-log least-squares slope of each cost per event (or in total) against teams."""
    return {key: loglog_slope([(float(p["teams"]),
                                float(p[key]) * (float(p["events"]) if total else 1.0))
                               for p in points])
            for key in COSTS}


def run_coordination_bench(teams: list[int], *, seed: int = 1, hours: float = 12.0,
                           shared: float | None = None, isolate: bool = True) -> dict[str, Any]:
    """Measure every size (each in a fresh process unless `isolate` is False)."""
    if not teams or any(n < 1 for n in teams):
        raise ValueError("teams must be one or more positive sizes")
    started = time.perf_counter()
    points: list[dict[str, Any]] = []
    for n in sorted(set(teams)):
        if isolate:
            with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
                points.append(pool.submit(measure_size, n, seed, hours, shared).result())
        else:
            points.append(measure_size(n, seed, hours, shared))
    slope = slopes(points)
    # The same costs summed over the run: 1 is linear in the size of the organisation.
    total = slopes(points, total=True)
    worst = max(total.values())
    return {"points": points, "slope": slope, "slope_max": max(slope.values()),
            "slope_total": total, "slope_total_max": worst, "goal": GOAL,
            "met": worst <= GOAL, "seed": seed, "hours": hours,
            "shared_dependency_share": shared if shared is not None else
            load_params().p("shared_dependency_share"),
            "seconds": round(time.perf_counter() - started, 1)}


def print_coordination(result: dict[str, Any], console: Console) -> None:
    """The benchmark as a table, with the slopes under it."""
    table = Table("teams", "services", "people", "events", "decisions", "CPU ms/ev",
                  "CPU s total", "msgs/ev", "msgs total", "peak MiB", "wall s",
                  title="baton bench coordination: cost per event and in total against size")
    for p in result["points"]:
        table.add_row(*(f"{p[k]:,}" for k in ("teams", "services", "people", "events",
                                               "decisions")),
                      f"{p['cpu_ms_per_event']:.4f}",
                      f"{p['cpu_ms_per_event'] * p['events'] / 1000:.2f}",
                      f"{p['messages_per_event']:.4f}", f"{p.get('messages', 0):,}",
                      f"{p['peak_memory_mib']:.1f}", f"{p.get('seconds', {}).get('wall', 0):.1f}")
    console.print(table)
    per_event = ", ".join(f"{k.replace('_ms_per_event', '').replace('_per_event', '')} "
                          f"{v:.3f}" for k, v in result["slope"].items())
    console.print(f"log-log slope of cost per event against teams (0 = flat): {per_event}")
    total = ", ".join(f"{k.replace('_ms_per_event', '').replace('_per_event', '')} {v:.3f}"
                      for k, v in result["slope_total"].items())
    verdict = "[green]met[/green]" if result["met"] else "[red]not met[/red]"
    console.print(f"log-log slope of the run's total cost against teams (1 = linear): "
                  f"{total}; max {result['slope_total_max']:.3f} (goal <= {result['goal']}): "
                  f"{verdict}")


def main(argv: list[str] | None = None) -> int:
    """python -m baton.bench_coordination --teams 10,100,1000 [--json PATH] [--profile N]."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m baton.bench_coordination")
    parser.add_argument("--teams", default="10,100,1000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hours", type=float, default=12.0)
    parser.add_argument("--shared", type=float, help="share of cross-copy dependencies")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--profile", type=int, metavar="TEAMS",
                        help="profile one size in this process (cProfile) instead")
    args = parser.parse_args(argv)
    console = Console()
    if args.profile:
        import pstats

        out = f"coordination-{args.profile}.prof"
        point = measure_size(args.profile, args.seed, args.hours, args.shared, profile=out)
        console.print(point)
        pstats.Stats(out).sort_stats("cumulative").print_stats(40)
        return 0
    result = run_coordination_bench([int(x) for x in args.teams.split(",") if x.strip()],
                                    seed=args.seed, hours=args.hours, shared=args.shared)
    print_coordination(result, console)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
