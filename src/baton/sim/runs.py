"""One model on one workload: configurations and shared parts cached per process."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from baton.config import Config, load_config
from baton.org.graph import ServiceGraph
from baton.scenarios import scenario_path
from baton.sim.ai import AiModel
from baton.sim.human import HumanModel
from baton.sim.measure import Outcome
from baton.sim.orgscale import scaled_config
from baton.sim.params import SimParams
from baton.sim.policy import Judge
from baton.sim.workload import build_workload

_CONFIGS: dict[tuple[str, int | None, float, float],
               tuple[Config, ServiceGraph, Judge]] = {}
PER_TEAM_DAY = 160.0 / 15.0  # situations a team raises a day at load 1 (the itops mix)


@dataclass
class ModelRun:
    """One model's outcomes on one workload, with what it cost to run."""

    model: str
    outcomes: list[Outcome]
    horizon: float  # minutes simulated, workload plus drain
    teams: int
    days: float
    load: float
    cpu_ms: float = 0.0
    manager_minutes: float = 0.0  # decision time spent by people with reports
    ledger: dict[str, Any] = field(default_factory=dict)


def config_for(scenario: str, teams: int | None, span: float,
               shared: float) -> tuple[Config, ServiceGraph, Judge]:
    """A (scaled) configuration, its service graph and a judge; cached per process."""
    key = (scenario, teams, span, shared)
    found = _CONFIGS.get(key)
    if found is None:
        base = load_config(scenario_path(scenario))
        config = base if teams is None else scaled_config(base, teams, span, shared)
        judge = Judge(config, ServiceGraph(config.org.services))
        found = _CONFIGS[key] = (config, judge.graph, judge)
    return found


def size_plan(teams: int, situations: int, max_days: float) -> tuple[float, float]:
    """(days, load) giving about `situations` situations: whole days, thinned below 1."""
    per_day = PER_TEAM_DAY * teams
    days = float(min(max_days, max(1, math.ceil(situations / per_day))))
    return days, min(1.0, situations / (per_day * days))


def run_model(model: str, params: SimParams, *, seed: int, days: float, drain: float,
              load: float, teams: int | None = None) -> ModelRun:
    """Build the seeded workload and run one model ("human" or "ai") on it."""
    config, graph, shared = config_for(params.scenario, teams, params.p("span_of_control"),
                                       params.p("shared_dependency_share"))
    work = build_workload(config, params, seed=seed, days=days, load=load, graph=graph)
    size = len(config.org.teams)
    horizon = (days + drain) * 1440.0
    managers = {p.reports_to for p in config.org.people if p.reports_to}
    if model == "human":
        sim = HumanModel(config, params, work, seed=seed, drain_days=drain,
                         judge=Judge(config, graph, shared.gate))
        outcomes = sim.run()
        spent = sum(v for k, v in sim.people.busy_minutes.items() if k in managers)
        return ModelRun("human", outcomes, horizon, size, days, load, manager_minutes=spent)
    ai = AiModel(config, params, work, seed=seed, drain_days=drain)
    result = ai.run()
    spent = sum(v for k, v in ai.people.busy_minutes.items() if k in managers)
    return ModelRun("ai", result.outcomes, horizon, size, days, load, cpu_ms=result.cpu_ms,
                    manager_minutes=spent, ledger={
                        "rows": result.ledger_rows, "verified": result.ledger_verified,
                        "head": result.ledger_head,
                        "decisions": result.decisions, "escalations": result.escalations})
