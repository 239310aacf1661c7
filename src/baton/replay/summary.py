"""The replay's findings: measurements, what could not be measured and why, and warnings."""

from __future__ import annotations

from collections import Counter
from typing import Any

from baton.learn.cases import Case
from baton.replay.flow import flow
from baton.replay.measure import measure, test_cases
from baton.replay.run import Replayed

JUDGED = 30  # cases a promotion class needs before it is judged


def default_class_by(cases: list[Case], attributes: list[str]) -> list[str]:
    """The open attribute (on 80% of cases) giving the most classes of 30+ cases, if >= 2."""
    best: tuple[int, list[str]] = (1, [])
    for name in attributes:
        values = Counter(c.open_attrs[name] for c in cases if name in c.open_attrs)
        judged = sum(n >= JUDGED for n in values.values())
        if sum(values.values()) >= 0.8 * len(cases) and judged > best[0]:
            best = (judged, [name])
    return best[1]


def _routing_gap(done: Replayed, share: float) -> str | None:
    m = done.loaded.mapping if done.loaded else None
    if m is not None and m.group is None:
        return ("the log names no handling group (the mapping has no `group`), so there is "
                "no routing to compare; map the column of the team that handled each row to "
                "measure it. Time to resolve, reassignments and waiting are measured below")
    if test_cases(done.cases, done.decisions, share):
        return None
    plan = done.plan
    need = (f"{plan.config.min_train} training and {plan.config.min_holdout} holdout cases "
            f"closed before the later {share:.0%} of cases opened") if plan else "more cases"
    last = f" (last attempt: {done.refusals[-1]})" if done.refusals else ""
    return (f"the router never had enough history to decide a test case{last}. It would "
            f"need {need}: lower routing.min_train / routing.min_holdout in the mapping or "
            "--min-train / --min-holdout, raise --test-share, or give a longer log")


def summarise(done: Replayed) -> dict[str, Any]:
    """Every figure of the report, with `not_measured` reasons and honesty warnings."""
    m = done.loaded.mapping if done.loaded else None
    share = done.plan.test_share if done.plan else 0.3
    attributes = m.open_attributes if m else []
    class_by = m.class_by if m and m.class_by is not None else \
        default_class_by(done.cases, attributes)
    result = measure(done.cases, done.decisions, test_share=share, class_by=class_by)
    result["class_by"] = class_by
    result["consistency"]["route_moves"] = dict(done.route_moves)
    result["flow"] = flow(done.cases, waiting_states=m.waiting_states if m else [],
                          reassignments_known=m is None or m.group is not None
                          or m.reassignment_count is not None)
    result["plan"] = done.plan.describe() if done.plan else {}
    result["skipped"] = dict(done.skipped)
    result["warnings"] = list(done.warnings)
    gaps: dict[str, str] = {}
    routing = _routing_gap(done, share)
    if routing is not None:
        gaps["routing"] = routing
        gaps["time_to_correct_group"] = "no routing was measured (see routing)"
        gaps["consistency"] = "no routing was measured (see routing)"
        gaps["promotion"] = "no routing was measured (see routing)"
    else:
        if not result["consistency"]["pairs"]:
            gaps["consistency"] = ("no two measured cases have identical open-time "
                                   "attributes; a longer log or fewer open_attributes would "
                                   "give pairs to compare")
        if result["time_to_correct_group_hours"]["ratio"] is None:
            gaps["time_to_correct_group"] = ("no measured case has a time to its final "
                                             "group")
    result["not_measured"] = gaps
    return result
