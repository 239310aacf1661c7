"""The replay's value report: report.json and report.html."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from baton.report.charts import cdf_chart, line_chart
from baton.report.page import Claim, Section, claims_table, table, write_report


def write_replay_report(directory: Path, result: dict[str, Any]) -> tuple[Path, Path]:
    """Write the replay's figures and plots."""
    r = result["routing"]
    t = result["time_to_correct_group_hours"]
    c = result["consistency"]
    data = dict(result)
    data["time_to_correct_group_hours"] = {k: v for k, v in t.items()
                                           if not k.endswith("_samples")}
    gain = r["autonomous_accuracy"] - r["human_accuracy_same_cases"]
    claims = [
        Claim("Decision latency 10-20x lower (time to the correct group)", "10-20x",
              f"{t['ratio']}x ({t['human_mean']:.2f} h people, {t['engine_mean']:.2f} h "
              "engine)", None if t["ratio"] is None else t["ratio"] >= 10),
        Claim("Routing at least 5 points better than people's first assignment at >= 50% "
              "autonomous coverage", "+5 points at >= 50%",
              f"{gain * 100:+.1f} points at {r['autonomous_coverage']:.0%} coverage",
              r["autonomous_coverage"] >= 0.5 and gain >= 0.05),
        Claim("Decision consistency 40-60% better", "40-60%",
              f"people route identical cases apart {c['human_disagreement']:.1%} of the time, "
              f"the engine {c['engine_disagreement']:.1%}",
              c["human_disagreement"] > 0 and
              c["engine_disagreement"] <= 0.6 * c["human_disagreement"]),
        Claim("Operational capacity 2-3x with the same managers", "2-3x", "see the simulation "
              "report (a log cannot show capacity)", None),
    ]
    curve = r["curve"]
    sections = [
        Section("Claims against measurements", claims_table(claims)),
        Section("Routing on the later 30% of cases", table(
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
        Section("Time to the correct group", cdf_chart(
            {"people": [max(v, 1e-3) for v in t["human_samples"]],
             "engine": [max(v, 1e-3) for v in t["engine_samples"]]},
            x_label="hours from opening (log scale)") +
            f"<p class=\"note\">{t['accounting']}.</p>"),
        Section("Consistency", f"<p>Among {c['pairs']} pairs of cases with identical "
                f"open-time attributes, people routed {c['human_disagreement']:.1%} to "
                f"different groups; the engine {c['engine_disagreement']:.1%}.</p>"),
        Section("Autonomy promotion by category", table(
            ["category", "cases", "agreement", "95% Wilson", "people", "recommendation"],
            [[p["class"], p["count"], p["agreement"],
              f"{p['wilson_low']:.2f}-{p['wilson_high']:.2f}", p["human_first_accuracy"],
              p["recommendation"]] for p in result["promotion"][:25]])),
    ]
    return write_report(directory, title="Baton shadow replay: routing on a recorded log",
                        data=data, sections=sections,
                        intro="Baton decided every case when it opened, learning only from "
                              "cases closed before that moment, and never acted; each "
                              "decision is compared with what people did later in the log.")
