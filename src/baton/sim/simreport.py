"""The value report of `baton simulate`: report.json and report.html with plots and claims."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from baton.report.charts import cdf_chart, line_chart
from baton.report.page import Claim, Section, claims_table, table, write_report
from baton.sim.coordination_curve import coordination_section
from baton.sim.sensitivity import CONCLUSIONS

LIMITS = [
    "A model, not a measurement: the human-led side is a queueing model of people with "
    "cited figures where they exist and marked assumptions elsewhere.",
    "The AI-led side runs the real engine, but its world is the simulated one: an executed "
    "action is taken to settle the matter; follow-up work by engineers is in neither model.",
    "Decision latency stops at the decision; how long the fix then takes is not compared.",
    "People answering Baton's escalations approve, or with the decision variability reject; "
    "they never change the action's parameters.",
    "Generated organisations copy the itops teams; the larger sizes simulate fewer "
    "situations per team (thinned, see the size table), so their per-situation costs are "
    "averages over fewer days.",
    "Capacity counts a situation as breached when it is decided after its target, never, "
    "or by an escalation's fallback because nobody answered in time.",
]


def _f(x: Any, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:,.{digits}f}"


def claims(d: dict[str, Any]) -> list[Claim]:
    """The design's claims beside what this run measured."""
    lat, cap, con = d["latency"], d["capacity"], d["consistency"]
    slopes, resp = d["cost_slopes"], d["response_time"]
    lr, cr = d["latency_ratio"], d["capacity_ratio"]
    bound = "at least " if d["capacity_ratio_bound"] == "at least" else ""
    h_tot = max(slopes["human"]["messages_total"], slopes["human"]["person_minutes_total"])
    a_tot = max(slopes["ai"]["messages_total"], slopes["ai"]["person_minutes_total"])
    return [
        Claim("Decision latency", "10-20x lower",
              f"{_f(lr)}x lower on average ({_f(lat['human']['mean'])} vs "
              f"{_f(lat['ai']['mean'], 2)} min; p90 {_f(lat['human']['p90'])} vs "
              f"{_f(lat['ai']['p90'], 2)} min)", lr is not None and lr >= 10,
              "above the claimed range" if lr is not None and lr > 20 else ""),
        Claim("Capacity with the same managers", "2-3x",
              f"{bound}{_f(cr)}x (the load at which more than "
              f"{d['breach_threshold']:.0%} of situations miss their target: human-led "
              f"{_f(cap['human']['load'], 2)}, AI-led {bound}{_f(cap['ai']['load'], 2)})",
              cr is not None and cr >= 2,
              ("a lower bound: the AI-led model never passed the threshold in the loads "
               "tried" if cap["ai"]["censored"] == "above" else "")
              + ("; above the claimed range" if cr is not None and cr > 3 else "")),
        Claim("Decision consistency", "40-60% better",
              f"{con['improvement']:.0%} fewer differing actions among identical situations "
              f"(human-led {con['human']:.1%}, AI-led {con['ai']:.1%})",
              con["improvement"] >= 0.4,
              "above the claimed range" if con["improvement"] > 0.6 else ""),
        Claim("Coordination cost against size", "linear for agents, superlinear for "
              "hierarchies",
              f"log-log slope of total cost: hierarchy messages "
              f"{slopes['human']['messages_total']:.2f}, person-minutes "
              f"{slopes['human']['person_minutes_total']:.2f}; agents messages "
              f"{slopes['ai']['messages_total']:.2f}, person-minutes "
              f"{slopes['ai']['person_minutes_total']:.2f}",
              a_tot <= 1.1 < h_tot,
              "1 is linear; see the cost section for what drives each slope"),
        Claim("Response time", "days to hours",
              f"matters that needed someone above the first decider: human-led "
              f"{_f(resp['human']['mean_hours'])} h on average, AI-led "
              f"{_f(resp['ai']['mean_hours'], 2)} h",
              resp["human"]["mean_hours"] >= 24 > resp["ai"]["mean_hours"],
              f"medians {_f(resp['human']['median_hours'])} h and "
              f"{_f(resp['ai']['median_hours'], 2)} h"),
    ]


def _cost_section(d: dict[str, Any]) -> str:
    pts = d["cost_vs_size"]
    charts = "".join(line_chart(
        {m: series for m in ("human", "ai")
         if (series := [(p["teams"], p[key]) for p in pts[m] if p[key] > 0])},
        x_label="teams", y_label=label, log_x=True, log_y=True, title=label)
        for key, label in (("messages_per_event", "messages per situation"),
                           ("person_minutes_per_event", "person-minutes per situation"),
                           ("cpu_ms_per_event", "engine CPU ms per situation")))
    rows = [[m, p["teams"], p["situations"], p["days"], p["load"], p["messages_per_event"],
             ", ".join(f"{k} {v:g}" for k, v in p.get("messages_by_kind", {}).items()),
             p["person_minutes_per_event"], p["cpu_ms_per_event"]]
            for m in ("human", "ai") for p in pts[m]]
    s = d["cost_slopes"]
    slope_rows = [[m, s[m]["messages_per_event"], s[m]["person_minutes_per_event"],
                   s[m]["cpu_ms_per_event"], s[m]["messages_total"],
                   s[m]["person_minutes_total"]] for m in ("human", "ai")]
    return (charts + table(["model", "teams", "situations", "days", "load (thinned)",
                            "messages", "most messages from", "person-min", "CPU ms"], rows)
            + table(["model", "slope: messages/situation", "person-min/situation",
                     "CPU ms/situation", "total messages", "total person-min"], slope_rows)
            + "<p class=\"note\">Per-situation slope 0 means cost grows linearly with the "
            "organisation (total slope 1). Larger organisations simulate fewer situations "
            "per team (the load column): the 1,000-team point is thinned. Baton's messages "
            "are pages (a role step pages at most `escalation.role_pages` of the role's "
            "members, nearest the team first) and work items; "
            "the hierarchy's are pages, hand-offs up and across the reporting lines, and the "
            "talk among every pair of teams involved.</p>")


def _sensitivity_section(d: dict[str, Any]) -> str:
    s = d["sensitivity"]
    summary = [[c, f"{v['holds_in']}/{v['variants']}", ", ".join(v["broken_by"]) or "-"]
               for c, v in s["summary"].items()]
    rows = [[v["parameter"], f"x{v['factor']:g}", v["latency_ratio"],
             *("yes" if v["holds"][c] else "NO" for c in CONCLUSIONS)]
            for v in [s["reference"], *s["variants"]]]
    return (table(["conclusion", "holds in", "broken by"], summary)
            + table(["assumption", "factor", "latency ratio", *CONCLUSIONS], rows)
            + f"<p class=\"muted\">Each variant: {s['settings']['days']:g} days, sizes "
            f"{s['settings']['sizes']} with {s['settings']['situations_per_size']} "
            "situations each.</p>")


def _parameters_section(d: dict[str, Any]) -> str:
    rows = [[r["name"], r["value"], r["unit"],
             r["source"] or f"ASSUMPTION: {r['assumption']}"] for r in d["parameters"]]
    return table(["parameter", "value", "unit", "source"], rows) + (
        f"<p class=\"muted\">From {escape(d['parameters_file'])}.</p>")


def sections(d: dict[str, Any]) -> list[Section]:
    """The report's parts, in reading order."""
    cap = d["capacity"]
    threshold = [(p[0], d["breach_threshold"]) for p in cap["curve"]["human"]]
    eng = d["ai_engine"]
    return [
        Section("Claims beside the measurements", claims_table(claims(d))),
        Section("Decision latency", cdf_chart(
            d["latency"]["samples_minutes"], x_label="minutes from situation to decision",
            title="decision latency") + table(
            ["model", "mean", "p50", "p90", "p99"],
            [[m, *(d["latency"][m][k] for k in ("mean", "p50", "p90", "p99"))]
             for m in ("human", "ai")])),
        Section("Capacity", line_chart(
            {"human": cap["curve"]["human"], "ai": cap["curve"]["ai"],
             "threshold": threshold}, x_label="load (x the itops workload)",
            y_label="share of situations missing their target", log_x=True,
            title="breaches against load") + table(
            ["model", "capacity (load)", "censored", "manager hours a week at load 1"],
            [[m, cap[m]["load"], cap[m]["censored"] or "-",
              cap["manager_hours_per_week_at_load_1"][m]] for m in ("human", "ai")])),
        Section("Coordination cost against organisation size", _cost_section(d)),
        *([coordination_section(d["coordination_bench"], d["coordination_hierarchy"])]
          if d.get("coordination_bench") else []),
        Section("Sensitivity to the assumptions", _sensitivity_section(d)),
        Section("The engine in the loop", table(
            ["decisions", "escalations", "ledger rows", "ledger verified",
             "engine CPU ms per situation"],
            [[eng["decisions"], eng["escalations"], eng["rows"], eng["verified"],
              eng["cpu_ms_per_situation"]]])),
        Section("Parameters and sources", _parameters_section(d)),
        Section("Limits", "<ul>" + "".join(f"<li>{escape(x)}</li>" for x in d["limits"])
                + "</ul>"),
    ]


def write(directory: Path, data: dict[str, Any]) -> tuple[Path, Path]:
    """Write report.json and report.html for one simulation."""
    data = dict(data, limits=LIMITS)
    data["claims"] = [c.__dict__ for c in claims(data)]
    wl = data["workload"]
    intro = escape(
        f"Scenario {data['scenario']}, seed {data['seed']}"
        f"{' (quick run)' if data['quick'] else ''}: {wl['situations']} situations over "
        f"{wl['days']:g} days at load 1 for each model; the same workload for both. "
        f"Run time {data['runtime_s']} s on {data['workers']} worker(s).")
    return write_report(directory, title="Baton against a human-led hierarchy: simulation",
                        data=data, sections=sections(data), intro=intro)
