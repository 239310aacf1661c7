"""The whole comparison: base run, capacity sweep, cost against size, sensitivity."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from baton.sim import sensitivity as sens
from baton.sim.measure import (
    Outcome,
    capacity,
    inconsistency,
    latencies,
    latency_summary,
    loglog_slope,
    ratio,
)
from baton.sim.params import SimParams
from baton.sim.runs import ModelRun, config_for
from baton.sim.tasks import breach_at, cost_at, executor, finite, human_capacity, model_run

MODELS = ("human", "ai")
SAMPLE = 4000  # latency samples per model kept in report.json


def _escalated_hours(run: ModelRun) -> dict[str, Any]:
    """Mean and median hours to decide what needed more than the first decider."""
    # The hierarchy's managers and syncs, or Baton's approvers.
    values = sorted(v for o, v in zip(run.outcomes, latencies(run.outcomes, run.horizon),
                                      strict=True) if o.escalated)
    if not values:
        return {"situations": 0, "mean_hours": 0.0, "median_hours": 0.0}
    return {"situations": len(values), "mean_hours": round(sum(values) / len(values) / 60, 3),
            "median_hours": round(values[len(values) // 2] / 60, 3)}


def _thin(values: list[float]) -> list[float]:
    ordered = sorted(round(v, 4) for v in values)
    step = max(1, len(ordered) // SAMPLE)
    return ordered[::step]


def _workload(outcomes: list[Outcome], days: float) -> dict[str, Any]:
    kinds = Counter(o.kind for o in outcomes)
    return {"situations": len(outcomes), "days": days, "per_day": round(len(outcomes) / days, 1),
            "by_kind": dict(sorted(kinds.items()))}


def _slopes(points: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in ("messages_per_event", "person_minutes_per_event", "cpu_ms_per_event"):
        per_event = loglog_slope([(p["teams"], p[key]) for p in points])
        out[key] = per_event
        out[key.replace("_per_event", "_total")] = round(per_event + 1.0, 4)
    return out


def simulate(params: SimParams, *, quick: bool = False, seed: int | None = None,
             workers: int | None = None,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run every measure for both models; returns the report data."""
    started = time.perf_counter()
    st = params.quick if quick else params.run
    if st.start is not None:
        params = params.model_copy(update={"start": st.start})
    seed = params.seed if seed is None else seed
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    say = progress or (lambda _: None)
    drain, days = st.drain_days, st.days
    s = sens.SensSettings(seed, st.sensitivity_days, drain, st.sensitivity_tries,
                          tuple(st.sensitivity_sizes), st.sensitivity_situations, 1.0)
    span, shared = params.p("span_of_control"), params.p("shared_dependency_share")
    for teams in [None, *st.sizes, *st.sensitivity_sizes]:
        config_for(params.scenario, teams, span, shared)  # forked workers inherit them
    say("organisations built")
    with executor(workers) as pool:
        cap_h = pool.submit(human_capacity, params, seed=seed, days=days, drain=drain,
                            loads=st.loads)
        ai_ref = pool.submit(sens.base_measures, "ai", params, s)
        cap_a = [pool.submit(breach_at, "ai", params, seed=seed, days=days, drain=drain,
                             load=load) for load in reversed(st.loads)]
        base = {m: pool.submit(model_run, m, params, seed=seed, days=days, drain=drain,
                               load=1.0) for m in MODELS}
        cost = {m: [pool.submit(cost_at, m, params, seed=seed, teams=n,
                                situations=st.size_situations, drain=drain)
                    for n in reversed(st.sizes)] for m in MODELS}
        say("base, capacity and size runs submitted")
        human_cap, human_curve = cap_h.result()
        s = sens.SensSettings(s.seed, s.days, s.drain, s.tries, s.sizes, s.situations,
                              human_cap["load"])
        reference = ai_ref.result()
        runs = [(n, f) for n in params.assumptions() for f in sens.FACTORS]
        variants = [pool.submit(sens.variant, params.varied(n, f), n, f, s, reference)
                    for n, f in runs]
        baseline = pool.submit(sens.variant, params, "reference", 1.0, s, reference)
        runs_done = {m: f.result() for m, f in base.items()}
        say("base runs done")
        ai_curve = sorted(f.result() for f in cap_a)
        points = {m: sorted((f.result() for f in fs), key=lambda p: p["teams"])
                  for m, fs in cost.items()}
        say("capacity and size runs done")
        sens_rows = [f.result() for f in variants]
        sens_base = baseline.result()
        say("sensitivity runs done")
    h, a = runs_done["human"], runs_done["ai"]
    lat = {m: latency_summary(latencies(r.outcomes, r.horizon)) for m, r in runs_done.items()}
    incons = {m: inconsistency(r.outcomes) for m, r in runs_done.items()}
    ai_cap = capacity(ai_curve, params.breach_threshold)
    cap_ratio = ratio(ai_cap["load"], human_cap["load"])
    hum, ai = incons["human"]["rate"], incons["ai"]["rate"]
    return {
        "scenario": params.scenario, "seed": seed, "quick": quick,
        "settings": st.model_dump(), "breach_threshold": params.breach_threshold,
        "parameters_file": params.file, "parameters": params.table(),
        "workload": _workload(h.outcomes, days),
        "latency": {**lat, "samples_minutes": {
            m: _thin(latencies(r.outcomes, r.horizon)) for m, r in runs_done.items()}},
        "latency_ratio": finite(round(ratio(lat["human"]["mean"], lat["ai"]["mean"]), 3)),
        "latency_ratio_p90": finite(round(ratio(lat["human"]["p90"], lat["ai"]["p90"]), 3)),
        "response_time": {m: _escalated_hours(r) for m, r in runs_done.items()},
        "capacity": {"human": human_cap, "ai": ai_cap,
                     "curve": {"human": human_curve, "ai": ai_curve},
                     "manager_hours_per_week_at_load_1": {
                         m: round(r.manager_minutes / 60 / days * 7, 2)
                         for m, r in runs_done.items()}},
        "capacity_ratio": finite(round(cap_ratio, 3)),
        "capacity_ratio_bound": "at least" if ai_cap["censored"] == "above" else (
            "at most" if human_cap["censored"] == "above" else None),
        "consistency": {"human": hum, "ai": ai, "improvement": round(
            (hum - ai) / hum, 4) if hum else 0.0, "groups": incons["human"]["groups"],
            "situations": incons["human"]["situations"]},
        "cost_vs_size": points,
        "cost_slopes": {m: _slopes(p) for m, p in points.items()},
        "sensitivity": {"settings": {"days": s.days, "sizes": list(s.sizes),
                                     "situations_per_size": s.situations,
                                     "load_doublings": s.tries, "factors": sens.FACTORS},
                        "reference": sens_base, "variants": sens_rows,
                        "summary": sens.summarise(sens_rows)},
        "ai_engine": {**a.ledger, "cpu_ms_per_situation": round(
            a.cpu_ms / max(1, len(a.outcomes)), 4)},
        "runtime_s": round(time.perf_counter() - started, 1), "workers": workers,
    }
