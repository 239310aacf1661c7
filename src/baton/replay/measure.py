"""What shadow mode proves on a log: engine against people, case by case, on later cases."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable
from itertools import combinations
from typing import Any

from baton.learn.cases import Case
from baton.learn.stable import Combination, combination

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _share(hits: int, n: int) -> float:
    return round(hits / n, 4) if n else 0.0


def _disagreement(test: list[Case],
                  routed_to: Callable[[Case], str]) -> tuple[float, int, int]:
    """Among pairs of cases with identical open-time attributes, the share routed apart,
    the pairs and the pairs routed apart.

    Pairs are formed among the first 50 cases of each combination, in open order.
    """
    groups: dict[Combination, list[str]] = defaultdict(list)
    for c in test:
        groups[combination(c.open_attrs)].append(routed_to(c))
    pairs = differ = 0
    for routed in groups.values():
        if len(routed) < 2:
            continue
        for a, b in combinations(routed[:50], 2):
            pairs += 1
            differ += a != b
    return _share(differ, pairs), pairs, differ


def test_cases(cases: list[Case], decisions: dict[str, dict[str, Any]],
               test_share: float = 0.3) -> list[Case]:
    """The later `test_share` of cases by open time that the engine decided."""
    ordered = sorted(cases, key=lambda c: (c.opened_at, c.id))
    return [c for c in ordered[int(len(ordered) * (1 - test_share)):] if c.id in decisions]


def measure(cases: list[Case], decisions: dict[str, dict[str, Any]], *,
            test_share: float = 0.3, class_by: list[str] | None = None) -> dict[str, Any]:
    """Every figure of the replay report, on the later `test_share` of cases by open time."""
    test = test_cases(cases, decisions, test_share)
    n = len(test)
    engine_right = [decisions[c.id]["group"] == c.final_group for c in test]
    human_right = [c.first_group == c.final_group for c in test]
    auto = [i for i, c in enumerate(test) if decisions[c.id]["verdict"] == "autonomous"]
    curve = []
    for t in THRESHOLDS:
        chosen = [i for i, c in enumerate(test) if decisions[c.id]["confidence"] >= t]
        curve.append({"threshold": t, "coverage": _share(len(chosen), n),
                      "accuracy": _share(sum(engine_right[i] for i in chosen), len(chosen)),
                      "human_accuracy_same_cases": _share(sum(human_right[i] for i in chosen),
                                                          len(chosen))})
    # Time to the correct group, in hours. People: from the log. Engine: its decision delay
    # when it routed autonomously and right; otherwise the people's path plus that delay.
    auto_set = set(auto)
    human_hours, engine_hours = [], []
    for i, c in enumerate(test):
        if c.reached_final_at is None:
            continue
        path = (c.reached_final_at - c.opened_at).total_seconds() / 3600
        delay = (decisions[c.id]["latency_s"] + decisions[c.id]["engine_ms"] / 1000) / 3600
        human_hours.append(path)
        engine_hours.append(delay if (i in auto_set and engine_right[i]) else path + delay)
    avoided = sum(c.reassignments for i, c in enumerate(test)
                  if i in auto_set and engine_right[i] and not human_right[i])
    human_dis, pairs, human_apart = _disagreement(test, lambda c: c.first_group)
    engine_dis, _, engine_apart = _disagreement(test, lambda c: decisions[c.id]["group"])
    consistency: dict[str, Any] = {"human_disagreement": human_dis,
                                   "engine_disagreement": engine_dis, "pairs": pairs,
                                   "human_pairs_apart": human_apart,
                                   "engine_pairs_apart": engine_apart}
    consistency.update(_without_stable_routes(test, decisions, sum(engine_right)))
    chosen_class_by = class_by if class_by is not None else ["category"]
    if consistency["cost_cases"] is not None:
        consistency["cost_by_combination"] = cost_by_combination(test, decisions,
                                                                 chosen_class_by)
    human_mean = sum(human_hours) / len(human_hours) if human_hours else 0.0
    engine_mean = sum(engine_hours) / len(engine_hours) if engine_hours else 0.0
    return {
        "cases": len(cases),
        "test_cases": n,
        "routing": {
            "engine_accuracy": _share(sum(engine_right), n),
            "human_first_accuracy": _share(sum(human_right), n),
            "autonomous_coverage": _share(len(auto), n),
            "autonomous_accuracy": _share(sum(engine_right[i] for i in auto), len(auto)),
            "human_accuracy_same_cases": _share(sum(human_right[i] for i in auto), len(auto)),
            "curve": curve,
        },
        "reassignments_avoided": avoided,
        "reassignments_total": sum(c.reassignments for c in test),
        "time_to_correct_group_hours": {
            "human_mean": round(human_mean, 3), "engine_mean": round(engine_mean, 3),
            "ratio": round(human_mean / engine_mean, 3) if engine_mean else None,
            "accounting": "people: from opening to the first update naming the final group, "
                          "from the log; engine: its decision delay when it routed "
                          "autonomously and right, else the people's path plus that delay",
            "human_samples": human_hours, "engine_samples": engine_hours},
        "consistency": consistency,
        "promotion": _promotion(test, engine_right, human_right, chosen_class_by),
        "measured_cases": [c.id for c in test],
    }


def _without_stable_routes(test: list[Case], decisions: dict[str, dict[str, Any]],
                           engine_hits: int) -> dict[str, Any]:
    """What the model's own choices would have scored, when the decisions carry them.

    `accuracy_cost` is the model's accuracy less the engine's (stable routes), as a share:
    what keeping identical cases together cost (negative: it gained); `cost_cases` the
    difference in cases routed right.
    """
    if not test or any("model_group" not in decisions[c.id] for c in test):
        return {"model_accuracy": None, "accuracy_cost": None, "cost_cases": None,
                "model_disagreement": None}
    hits = sum(decisions[c.id]["model_group"] == c.final_group for c in test)
    return {"model_accuracy": _share(hits, len(test)),
            "accuracy_cost": round((hits - engine_hits) / len(test), 6),
            "cost_cases": hits - engine_hits,
            "model_disagreement": _disagreement(test,
                                                lambda c: decisions[c.id]["model_group"])[0]}


def cost_by_combination(test: list[Case], decisions: dict[str, dict[str, Any]],
                        class_by: list[str], top: int = 10) -> dict[str, Any]:
    """Where stable routes cost or won accuracy, per combination of open-time attributes.

    A combination counts when the engine and the model's own choice routed one of its
    measured cases differently. Per combination: `lost` (the model was right, the engine
    not), `won` (the reverse) and `net` (lost less won). The result holds how many
    combinations count, the lost and won cases of all of them, and in `largest` the `top`
    with the largest net first (ties: the most cases, then the earliest). A combination is
    named by its class, its first measured case and its number of measured cases: the full
    attribute list is long and may name people.
    """
    by_key: dict[Combination, list[Case]] = defaultdict(list)
    for c in test:
        by_key[combination(c.open_attrs)].append(c)
    rows: list[dict[str, Any]] = []
    for cases in by_key.values():
        lost = won = 0
        kept: Counter[str] = Counter()
        model: Counter[str] = Counter()
        for c in cases:
            engine, own = decisions[c.id]["group"], decisions[c.id]["model_group"]
            if engine == own:
                continue
            kept[engine] += 1
            model[own] += 1
            lost += own == c.final_group
            won += engine == c.final_group
        if not kept:
            continue
        first = cases[0]
        rows.append({"class": class_of(first, class_by), "first_case": first.id,
                     "first_opened": first.opened_at.isoformat(), "cases": len(cases),
                     "differed": sum(kept.values()), "lost": lost, "won": won,
                     "net": lost - won, "engine_group": kept.most_common(1)[0][0],
                     "model_group": model.most_common(1)[0][0]})
    rows.sort(key=lambda r: (-r["net"], -r["cases"], r["first_opened"], r["first_case"]))
    return {"combinations": len(rows), "lost": sum(r["lost"] for r in rows),
            "won": sum(r["won"] for r in rows), "largest": rows[:top]}


def class_of(case: Case, class_by: list[str]) -> str:
    """A case's promotion class: its values of the `class_by` attributes."""
    if not class_by:
        return "(all cases)"
    return " / ".join(case.open_attrs.get(name, "(none)") for name in class_by)


def _promotion(test: list[Case], engine_right: list[bool], human_right: list[bool],
               class_by: list[str]) -> list[dict[str, Any]]:
    """Per decision class: agreement, count, Wilson interval, a recommendation."""
    by_class: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(test):
        by_class[class_of(c, class_by)].append(i)
    out = []
    for name, idx in sorted(by_class.items(), key=lambda kv: -len(kv[1])):
        hits = sum(engine_right[i] for i in idx)
        human = _share(sum(human_right[i] for i in idx), len(idx))
        low, high = wilson(hits, len(idx))
        promote = len(idx) >= 30 and low >= human
        out.append({"class": name, "count": len(idx), "agreement": _share(hits, len(idx)),
                    "wilson_low": round(low, 4), "wilson_high": round(high, 4),
                    "human_first_accuracy": human,
                    "recommendation": "promote to autonomous" if promote else "keep approval",
                    "why": (f"the engine's agreement is at least {low:.0%} (95% Wilson), "
                            f"not below people's {human:.0%}") if promote else
                           (f"{len(idx)} cases; the lower bound {low:.0%} is below people's "
                            f"{human:.0%}" if len(idx) >= 30 else
                            f"only {len(idx)} cases: too few to judge")})
    return out
