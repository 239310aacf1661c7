"""Sensitivity: every assumption at -50% and +50%, one at a time; does each conclusion hold?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from baton.sim.measure import inconsistency, latencies, latency_summary, loglog_slope, ratio
from baton.sim.params import SimParams
from baton.sim.runs import run_model
from baton.sim.tasks import capacity_check, cost_at, finite

#: Parameters the AI-led model reads (people answering escalations); the others change
#: only the human-led model, so the AI-led runs of the reference are reused for them.
AI_PARAMS = frozenset({"ack_minutes", "wake_up_minutes", "decision_minutes",
                       "decision_variability", "manager_coordination_share"})
FACTORS = (0.5, 1.5)
CONCLUSIONS = ("latency_ratio_gt_1", "capacity_ratio_gt_1", "consistency_better",
               "cost_slope_lower", "message_slope_lower")


@dataclass(frozen=True)
class SensSettings:
    """The smaller run each variant gets."""

    seed: int
    days: float
    drain: float
    tries: int  # load doublings to find where the human-led model breaches
    sizes: tuple[int, ...]
    situations: int
    centre: float  # the human-led capacity of the full run: the search starts above it


def base_measures(model: str, params: SimParams, s: SensSettings) -> dict[str, Any]:
    """Latency, inconsistency and cost per size of one model at the sensitivity settings."""
    run = run_model(model, params, seed=s.seed, days=s.days, drain=s.drain, load=1.0)
    cost = [cost_at(model, params, seed=s.seed, teams=n, situations=s.situations,
                    drain=s.drain) for n in s.sizes]
    return {"latency": latency_summary(latencies(run.outcomes, run.horizon)),
            "inconsistency": inconsistency(run.outcomes)["rate"], "cost": cost}


def variant(params: SimParams, name: str, factor: float, s: SensSettings,
            ai_reference: dict[str, Any]) -> dict[str, Any]:
    """One parameter scaled by `factor`: the four conclusions and the values behind them."""
    human = base_measures("human", params, s)
    ai = base_measures("ai", params, s) if name in AI_PARAMS and factor != 1.0 \
        else ai_reference
    cap = capacity_check(params, seed=s.seed, days=s.days, drain=s.drain,
                         start=s.centre * 1.5, tries=s.tries)
    slopes = {key: {m: loglog_slope([(p["teams"], p[key]) for p in r["cost"]])
                    for m, r in (("human", human), ("ai", ai))}
              for key in ("person_minutes_per_event", "messages_per_event")}
    lat = ratio(human["latency"]["mean"], ai["latency"]["mean"])
    fields = type(params.parameters).model_fields
    value = getattr(params.parameters, name).value if name in fields else None
    return {
        "parameter": name, "factor": factor, "value": value,
        "latency_ratio": finite(round(lat, 3)),
        "capacity_check": cap,
        "inconsistency": {"human": human["inconsistency"], "ai": ai["inconsistency"]},
        "slopes": slopes,
        "holds": {
            "latency_ratio_gt_1": lat > 1,
            "capacity_ratio_gt_1": cap["holds"],
            "consistency_better": ai["inconsistency"] < human["inconsistency"],
            "cost_slope_lower": slopes["person_minutes_per_event"]["ai"]
            < slopes["person_minutes_per_event"]["human"],
            "message_slope_lower": slopes["messages_per_event"]["ai"]
            < slopes["messages_per_event"]["human"],
        },
    }


def summarise(variants: list[dict[str, Any]]) -> dict[str, Any]:
    """For each conclusion: in how many variants it holds, and which ones break it."""
    out: dict[str, Any] = {}
    for c in CONCLUSIONS:
        broken = [f"{v['parameter']} x{v['factor']:g}" for v in variants if not v["holds"][c]]
        out[c] = {"holds_in": len(variants) - len(broken), "variants": len(variants),
                  "broken_by": broken}
    return out
