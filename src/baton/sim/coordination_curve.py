"""Coordination messages against organisation size: Baton's engine beside the hierarchy.

The engine's curve comes from `baton bench coordination` (the real engine on generated
organisations, `baton.bench_coordination`); the hierarchy's from the simulation's
human-led model at the same sizes (`baton.sim.tasks.cost_at`, as `baton simulate`
computes it for its cost section). Both organisations come from the same generator
(`baton.sim.orgscale.scaled_config`), so a size means the same teams, people and services.
Both curves are messages per situation: a situation is what needs a decision in either.
"""

from __future__ import annotations

from html import escape
from typing import Any

from baton.report.charts import line_chart
from baton.report.page import Section, table
from baton.sim.measure import loglog_slope
from baton.sim.params import SimParams, load_params
from baton.sim.tasks import cost_at

ENGINE = "Baton engine (measured)"
HIERARCHY = "human-led hierarchy (model)"
TITLE = "Coordination messages: Baton's engine beside the hierarchy"


def hierarchy_points(teams: list[int], *, params: SimParams | None = None,
                     seed: int | None = None, quick: bool = False) -> list[dict[str, Any]]:
    """The hierarchy model's cost per situation at these sizes, as `baton simulate` gets it."""
    params = params if params is not None else load_params()
    st = params.quick if quick else params.run
    return [cost_at("human", params, seed=params.seed if seed is None else seed, teams=n,
                    situations=st.size_situations, drain=st.drain_days)
            for n in sorted(set(teams))]


def _engine_per_situation(p: dict[str, Any]) -> float:
    if "messages_per_situation" in p:
        return float(p["messages_per_situation"])
    return float(p["messages_per_event"])  # an older bench result: per event only


def coordination_curve_html(bench: dict[str, Any], hierarchy: list[dict[str, Any]]) -> str:
    """A log-log chart of messages per situation for both, a table by size, the slopes."""
    # `bench` is run_coordination_bench's result; `hierarchy` the human-led cost points
    # (report data `cost_vs_size.human`, or hierarchy_points()).
    engine = sorted(bench["points"], key=lambda p: p["teams"])
    human = {int(p["teams"]): p for p in hierarchy}
    series = {
        ENGINE: [(float(p["teams"]), v) for p in engine if (v := _engine_per_situation(p)) > 0],
        HIERARCHY: [(float(n), float(p["messages_per_event"])) for n, p in sorted(human.items())
                    if p["messages_per_event"] > 0],
    }
    chart = line_chart({k: v for k, v in series.items() if v}, x_label="teams",
                       y_label="coordination messages per situation", log_x=True, log_y=True,
                       title="coordination messages per situation against size")
    rows: list[list[Any]] = []
    for n in sorted({int(p["teams"]) for p in engine} | set(human)):
        e = next((p for p in engine if int(p["teams"]) == n), None)
        h = human.get(n)
        mine = _engine_per_situation(e) if e is not None else None
        theirs = float(h["messages_per_event"]) if h is not None else None
        rows.append([
            f"{n:,}",
            "-" if mine is None else f"{mine:.4f}",
            "-" if e is None else f"{e['messages_per_event']:.4f}",
            "-" if e is None else f"{e['cpu_ms_per_event']:.4f}",
            "-" if theirs is None else f"{theirs:.4f}",
            f"{theirs / mine:,.1f}x" if mine and theirs else "-",
        ])
    slope_engine = loglog_slope(series[ENGINE])
    slope_human = loglog_slope(series[HIERARCHY])
    note = (f"Log-log slope of messages per situation against teams: engine "
            f"{slope_engine:.2f}, hierarchy {slope_human:.2f} (0: each situation costs the same "
            f"at any size, so the total grows linearly; above 0: superlinear). The engine's "
            f"messages are the pages, team notices and agent consultations it sends "
            f"(its own counter); the hierarchy's are its pages, hand-offs up and across the "
            f"reporting lines and the talk among the teams involved. Engine run: seed "
            f"{bench.get('seed', '-')}, {bench.get('hours', '-')} virtual hours per size, "
            f"CPU slope {bench['slope']['cpu_ms_per_event']:.2f} per event."
            + (" Slope of the run's total cost against teams (1 = linear): CPU "
               f"{bench['slope_total']['cpu_ms_per_event']:.2f}, messages "
               f"{bench['slope_total']['messages_per_event']:.2f}."
               if "slope_total" in bench else ""))
    return (chart + table(["teams", "engine messages / situation", "engine messages / event",
                           "engine CPU ms / event", "hierarchy messages / situation",
                           "hierarchy / engine"], rows)
            + f'<p class="note">{escape(note)}</p>')


def coordination_section(bench: dict[str, Any], hierarchy: list[dict[str, Any]]) -> Section:
    """The curve as a section of the simulation report."""
    return Section(TITLE, coordination_curve_html(bench, hierarchy))
