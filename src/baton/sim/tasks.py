"""Units of work for the experiment: each runs in any worker process and returns plain data."""

from __future__ import annotations

import math
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, TypeVar

from baton.sim.measure import breach_rate, capacity, cost_point
from baton.sim.params import SimParams
from baton.sim.runs import ModelRun, run_model, size_plan

T = TypeVar("T")


class SerialExecutor(Executor):
    """Runs each task at once in this process (one worker, or where forking is unwanted)."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run `fn` now and return its finished future."""
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def executor(workers: int) -> Executor:
    """A pool of `workers` processes, or a serial executor for one."""
    if workers <= 1:
        return SerialExecutor()
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork"))


def breach_at(model: str, params: SimParams, *, seed: int, days: float, drain: float,
              load: float) -> tuple[float, float]:
    """(load, breach rate) of one model at one load."""
    run = run_model(model, params, seed=seed, days=days, drain=drain, load=load)
    return load, round(breach_rate(run.outcomes, params, run.horizon), 5)


def sweep(model: str, params: SimParams, *, seed: int, days: float, drain: float,
          loads: list[float], stop_above: float) -> list[tuple[float, float]]:
    """Breach rate at each load in order, stopping once it passes `stop_above`."""
    curve: list[tuple[float, float]] = []
    for load in loads:
        curve.append(breach_at(model, params, seed=seed, days=days, drain=drain, load=load))
        if curve[-1][1] > stop_above:
            break
    return curve


def capacity_check(params: SimParams, *, seed: int, days: float, drain: float,
                   start: float, tries: int) -> dict[str, Any]:
    """Is the AI-led capacity above the human-led one, as seen at one load?"""
    # Find a load where the human-led model passes the breach threshold (doubling from
    # `start`), then see whether the AI-led one stays within it there: if so, AI-led
    # capacity >= that load > human-led capacity.
    limit = params.breach_threshold
    load, human = start, 0.0
    for _ in range(tries):
        _, human = breach_at("human", params, seed=seed, days=days, drain=drain, load=load)
        if human > limit:
            break
        load *= 2
    _, ai = breach_at("ai", params, seed=seed, days=days, drain=drain, load=load)
    return {"load": round(load, 4), "human_breach": human, "ai_breach": ai,
            "holds": human > limit >= ai}


def cost_at(model: str, params: SimParams, *, seed: int, teams: int, situations: int,
            drain: float) -> dict[str, Any]:
    """Coordination cost per situation of one model at one organisation size."""
    days, load = size_plan(teams, situations, 7.0)
    run = run_model(model, params, seed=seed, days=days, drain=drain, load=load, teams=teams)
    point = cost_point(run.outcomes, teams, run.cpu_ms)
    point.update(days=days, load=round(load, 4))
    return point


def model_run(model: str, params: SimParams, *, seed: int, days: float, drain: float,
              load: float) -> ModelRun:
    """A whole model run (outcomes and all) at one load on the scenario's organisation."""
    return run_model(model, params, seed=seed, days=days, drain=drain, load=load)


def human_capacity(params: SimParams, *, seed: int, days: float, drain: float,
                   loads: list[float]) -> tuple[dict[str, Any], list[tuple[float, float]]]:
    """The human-led model's capacity found on `loads`, with the curve it came from."""
    curve = sweep("human", params, seed=seed, days=days, drain=drain, loads=loads,
                  stop_above=min(0.5, 4 * params.breach_threshold))
    return capacity(curve, params.breach_threshold), curve


def finite(x: float) -> float | None:
    """x, or None when it is not a finite number (JSON has no infinity)."""
    return x if math.isfinite(x) else None
