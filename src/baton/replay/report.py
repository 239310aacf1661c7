"""The replay's value report: report.json and report.html."""

from __future__ import annotations

from dataclasses import replace
from html import escape
from pathlib import Path
from typing import Any

from baton.report.charts import cdf_chart, line_chart
from baton.report.page import Claim, Section, claims_table, table, write_report


def _gap(why: str) -> str:
    return f"<p class=\"fails\"><strong>not measured: {escape(why)}</strong></p>"


MAX_ACCURACY_COST = 0.01  # stable routes may cost at most 1 point of accuracy


def consistency_text(c: dict[str, Any], engine_accuracy: float) -> str:
    """Both halves of the consistency goal in words: disagreement, then accuracy cost."""
    apart = (f"identical cases routed apart: engine {c['engine_disagreement']:.2%}, people "
             f"{c['human_disagreement']:.2%}")
    if c.get("accuracy_cost") is None:
        return f"{apart}; accuracy cost not measured (the router gave no choice of its own)"
    return (f"{apart}; accuracy cost {c['accuracy_cost'] * 100:.3f} points "
            f"({engine_accuracy:.2%} with stable routes, {c['model_accuracy']:.2%} without)"
            f"{_largest_text(c)}")


def _largest_text(c: dict[str, Any]) -> str:
    """The combination that cost the most, when keeping routes cost accuracy."""
    by = c.get("cost_by_combination") or {}
    largest = by.get("largest") or []
    if not largest or largest[0]["net"] <= 0 or c["cost_cases"] <= 0:
        return ""
    top = largest[0]
    others = by["combinations"] - 1
    return (f"; one combination of {top['cases']} identical cases ({top['class']}, from "
            f"{top['first_case']}) cost {top['net']}, the {others} other "
            f"combination{'' if others == 1 else 's'} where the routes differed "
            f"{by['lost'] - top['lost']} lost and {by['won'] - top['won']} won back")


def consistency_holds(c: dict[str, Any]) -> bool | None:
    """The goal: no more pairs apart than people's, at no more than 1 point of accuracy."""
    if c.get("accuracy_cost") is None:
        return None
    return bool(c["engine_pairs_apart"] <= c["human_pairs_apart"]
                and c["accuracy_cost"] <= MAX_ACCURACY_COST)


def _claims(result: dict[str, Any]) -> list[Claim]:
    r, t, c = result["routing"], result["time_to_correct_group_hours"], result["consistency"]
    gaps = result["not_measured"]
    gain = r["autonomous_accuracy"] - r["human_accuracy_same_cases"]
    latency = Claim("Decision latency 10-20x lower (time to the correct group)", "10-20x",
                    f"{t['ratio']}x ({t['human_mean']:.2f} h people, {t['engine_mean']:.2f} h "
                    "engine)", None if t["ratio"] is None else t["ratio"] >= 10)
    routing = Claim("Routing at least 5 points better than people's first assignment at "
                    ">= 50% autonomous coverage", "+5 points at >= 50%",
                    f"{gain * 100:+.1f} points at {r['autonomous_coverage']:.0%} coverage",
                    r["autonomous_coverage"] >= 0.5 and gain >= 0.05)
    consistency = Claim("Decision consistency: identical cases routed apart no more often "
                        "than by people, at no more than 1 point of accuracy",
                        "engine <= people; cost <= 1 point",
                        consistency_text(c, r["engine_accuracy"]), consistency_holds(c))
    measured = [replace(claim, measured=f"not measured: {gaps[key]}", holds=None)
                if key in gaps else claim
                for key, claim in (("time_to_correct_group", latency), ("routing", routing),
                                   ("consistency", consistency))]
    return [*measured,
            Claim("Operational capacity 2-3x with the same managers", "2-3x", "see the "
                  "simulation report (a log cannot show capacity)", None)]


def _routing_sections(result: dict[str, Any]) -> list[Section]:
    r, t, c = result["routing"], result["time_to_correct_group_hours"], result["consistency"]
    gaps = result["not_measured"]
    share = result.get("plan", {}).get("test_share", 0.3)
    if "routing" in gaps:
        return [Section("Routing", _gap(gaps["routing"]))]
    curve = r["curve"]
    return [
        Section(f"Routing on the later {share:.0%} of cases", table(
            ["measure", "value"],
            [["cases replayed", result["cases"]], ["cases measured", result["test_cases"]],
             ["engine accuracy (all cases)", r["engine_accuracy"]],
             ["people's first-assignment accuracy", r["human_first_accuracy"]],
             ["autonomous coverage (Cedar: confidence >= policy threshold)",
              r["autonomous_coverage"]],
             ["engine accuracy on autonomous cases", r["autonomous_accuracy"]],
             ["people's accuracy on the same cases", r["human_accuracy_same_cases"]],
             ["reassignments autonomous routing would have avoided",
              f"{result['reassignments_avoided']} of {result['reassignments_total']}"]])),
        Section("Coverage and accuracy by confidence threshold", line_chart(
            {"engine": [(p["coverage"], p["accuracy"]) for p in curve if p["coverage"]],
             "people, same cases": [(p["coverage"], p["human_accuracy_same_cases"])
                                    for p in curve if p["coverage"]]},
            x_label="autonomous coverage", y_label="accuracy") + table(
            ["threshold", "coverage", "engine accuracy", "people on same cases"],
            [[p["threshold"], p["coverage"], p["accuracy"], p["human_accuracy_same_cases"]]
             for p in curve])),
        Section("Time to the correct group", _gap(gaps["time_to_correct_group"])
                if "time_to_correct_group" in gaps else cdf_chart(
            {"people": [max(v, 1e-3) for v in t["human_samples"]],
             "engine": [max(v, 1e-3) for v in t["engine_samples"]]},
            x_label="hours from opening (log scale)") +
            f"<p class=\"note\">{t['accounting']}.</p>"),
        Section("Consistency", _gap(gaps["consistency"]) if "consistency" in gaps else
                _consistency(c, r["engine_accuracy"])),
        Section("Autonomy promotion by " + (" / ".join(result["class_by"]) or "all cases"),
                table(["class", "cases", "agreement", "95% Wilson", "people",
                       "recommendation"],
                      [[p["class"], p["count"], p["agreement"],
                        f"{p['wilson_low']:.2f}-{p['wilson_high']:.2f}",
                        p["human_first_accuracy"], p["recommendation"]]
                       for p in result["promotion"][:25]])),
    ]


def _consistency(c: dict[str, Any], engine_accuracy: float) -> str:
    text = (f"<p>Among {c['pairs']} pairs of cases with identical open-time attributes "
            "(the first 50 measured cases of each combination), people routed "
            f"{c['human_pairs_apart']} ({c['human_disagreement']:.2%}) to different groups; "
            f"the engine {c['engine_pairs_apart']} ({c['engine_disagreement']:.2%}).</p>")
    if c.get("accuracy_cost") is None:
        return text + "<p>The router gave no choice of its own, so what stable routes cost " \
                      "in accuracy is not measured.</p>"
    moves = c.get("route_moves") or {}
    return text + (
        f"<p>The model's own choices, without stable routes, would have routed "
        f"{c['model_disagreement']:.2%} apart. Stable routes kept the route of "
        f"{moves.get('kept', 0)} cases where the model alone would have moved it, and moved "
        f"{moves.get('outcomes', 0)} on the combination's own outcomes, "
        f"{moves.get('young route', 0)} young routes (given to few cases) on lighter "
        "evidence from those outcomes, and "
        f"{moves.get('ruled out', 0)} because the model ruled the old group out. Accuracy "
        f"{engine_accuracy:.2%} with stable routes, {c['model_accuracy']:.2%} without: a "
        f"cost of {c['accuracy_cost'] * 100:.3f} points, {c['cost_cases']} cases (the goal "
        "allows 1 point).</p>") + _cost_table(c)


def _cost_table(c: dict[str, Any]) -> str:
    """The combinations where stable routes cost (or won) the most cases."""
    by = c.get("cost_by_combination")
    if not by or not by["largest"]:
        return ""
    return (f"<p>Where the engine and the model differed: {by['combinations']} combinations; "
            f"{by['lost']} cases the model had right and the kept route wrong (lost), "
            f"{by['won']} the reverse (won). The largest net costs:</p>" + table(
                ["class", "first measured case", "opened", "measured cases", "differed",
                 "kept route", "model's choice", "lost", "won", "net"],
                [[r["class"], r["first_case"], r["first_opened"][:10], r["cases"],
                  r["differed"], r["engine_group"], r["model_group"], r["lost"], r["won"],
                  r["net"]] for r in by["largest"]]))


def _flow_section(result: dict[str, Any]) -> Section:
    f = result["flow"]
    resolve, re, wait = f["time_to_resolve_hours"], f["reassignments"], f["waiting_hours"]
    moved: list[list[Any]] = [["reassignments", f"not measured: {re['not measured']}"]] \
        if "not measured" in re else [
            ["reassignments per case, mean", re["mean"]],
            ["share of cases reassigned at least once", re["share_reassigned"]]]
    rows: list[list[Any]] = [
        ["cases over", f["cases"]],
        ["time to resolve, mean / median (h)", f"{resolve['mean']} / {resolve['median']}"],
        *moved,
        ["waiting, mean / median (h)", f"not measured: {wait['not measured']}"
         if "not measured" in wait else f"{wait['mean']} / {wait['median']}"]]
    return Section("How people's cases flowed (no routing needed)", table(["measure", "value"],
                                                                          rows))


def write_replay_report(directory: Path, result: dict[str, Any]) -> tuple[Path, Path]:
    """Write the replay's figures and plots; what could not be measured says why."""
    data = dict(result)
    data["time_to_correct_group_hours"] = {
        k: v for k, v in result["time_to_correct_group_hours"].items()
        if not k.endswith("_samples")}
    warnings = "".join(f"<p class=\"fails\"><strong>warning: {escape(w)}</strong></p>"
                       for w in result["warnings"])
    plan = result.get("plan", {})
    sections = [Section("Claims against measurements", warnings + claims_table(_claims(result))),
                *_routing_sections(result), _flow_section(result),
                Section("Settings (scaled to this log unless the mapping or CLI set them)",
                        table(["setting", "value"], [[k, v] for k, v in plan.items()]))]
    return write_report(directory, title="Baton shadow replay: routing on a recorded log",
                        data=data, sections=sections,
                        intro="Baton decided every case when it opened, learning only from "
                              "cases closed before that moment, and never acted; each "
                              "decision is compared with what people did later in the log.")
