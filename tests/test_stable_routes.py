"""Routes stay stable across retrains: identical cases go to the same group until evidence
says the route is wrong (the combination's own outcomes, or the model ruling it out)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from baton.learn.cases import Case
from baton.learn.routing import Decision, RollingRouter, RoutingConfig
from baton.learn.stable import StableRoutes, combination, sign_test
from baton.replay.measure import measure
from baton.replay.report import consistency_holds, consistency_text

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
CONFIG = RoutingConfig(attributes=("caller_id", "category"), min_train=100, min_holdout=40,
                       holdout_share=0.2, lag=None, window=800, max_iter=20)
TWIN = {"caller_id": "twin", "category": "shared"}


def cases(n: int = 1000, *, seed: int = 1, drift_at: int | None = None) -> list[Case]:
    """Background cases routed by category; every 10th case is the same `TWIN` case.

    The twins are resolved by A or B at random (a near tie that retrains flip), or, with
    `drift_at`, by A before that case and by B from it on.
    """
    rng = random.Random(seed)
    out = []
    for i in range(n):
        opened = T0 + timedelta(minutes=40 * i)
        if i % 10 == 0:
            attrs = dict(TWIN)
            final = ("A" if i < drift_at else "B") if drift_at is not None else \
                rng.choice("AB")
        else:
            cat = rng.randrange(5)
            attrs = {"caller_id": f"c{rng.randrange(30)}", "category": f"k{cat}"}
            final = f"G{cat}"
        out.append(Case(id=f"I{i:05d}", opened_at=opened, open_attrs=attrs, first_group=final,
                        final_group=final, closed_at=opened + timedelta(hours=6)))
    return out


def twins(decisions: list[Decision], log: list[Case]) -> list[str]:
    ids = {c.id for c in log if c.open_attrs == TWIN}
    return [d.group for d in decisions if d.case_id in ids and d.group is not None]


def rolling(alpha: float | None) -> RollingRouter:
    return RollingRouter(CONFIG, every=timedelta(days=1), min_new_outcomes=30,
                         stable_alpha=alpha)


def changes(routes: list[str]) -> int:
    return sum(a != b for a, b in pairwise(routes))


def test_identical_cases_stay_together_across_retrains_without_evidence() -> None:
    log = cases()
    free, stable = rolling(None), rolling(0.01)
    decided = stable.replay(log)
    moved, kept = twins(free.replay(log), log), twins(decided, log)
    assert len(free.fits) >= 5 and len(moved) == len(kept) > 50
    assert changes(moved) >= 8  # without stable routes, retrains flip the near tie
    assert changes(kept) == 0  # the twins' outcomes stay a coin toss: no evidence
    assert stable.stable is not None and stable.stable.moves["kept"] > 0
    ids = {c.id for c in log if c.open_attrs == TWIN}
    own = [d.model_group for d in decided if d.case_id in ids and d.group is not None]
    assert own == moved  # each decision also records the model's own choice


def test_a_route_moves_when_its_combination_changes_group_and_stays_there() -> None:
    log = cases(drift_at=500)
    decided = [(d.opened_at, d.group) for d in rolling(0.01).replay(log)
               if d.case_id in {c.id for c in log if c.open_attrs == TWIN} and d.group]
    first_b = next(at for at, group in decided if group == "B")
    assert first_b >= log[500].opened_at  # never before the twins began to end in B
    assert {group for _, group in decided[:20]} == {"A"}
    assert {group for _, group in decided[-20:]} == {"B"}


def booked(cases: list[Case], route: str = "A", *, given: int = 10, alpha: float = 0.01,
           floor: float = 0.05) -> StableRoutes:
    """Stable routes where `TWIN`'s route is `route`, already given to `given` cases (more
    than five: not a young route, unless `given` says so)."""
    book = StableRoutes(cases, alpha=alpha, floor=floor)
    book.routes[combination(TWIN)] = route
    book.given[combination(TWIN)] = given
    return book


def probe(at: datetime) -> Case:
    return Case(id="P", opened_at=at, open_attrs=TWIN, first_group="A", final_group="A",
                closed_at=at)


def test_sign_test_matches_hand_computed_values() -> None:
    assert sign_test(7, 0) == 1 / 128
    assert sign_test(10, 1) == 12 / 2048  # (11 + 1) of 2^11
    assert sign_test(3, 3) == 42 / 64
    assert sign_test(0, 0) == 1.0


def test_a_model_that_merely_prefers_another_group_does_not_move_a_route() -> None:
    book = booked([])
    assert book.choose(probe(T0), [("B", 0.9), ("A", 0.08)]) == ("A", 0.08)
    assert book.routes[combination(TWIN)] == "A" and book.moves == Counter({"kept": 1})


def test_a_route_the_model_rules_out_moves() -> None:
    book = booked([], floor=0.05)
    assert book.choose(probe(T0), [("B", 0.96), ("A", 0.04)]) == ("B", 0.96)
    gone = booked([], floor=0.05)  # the kept group is no longer even a candidate
    assert gone.choose(probe(T0), [("B", 0.5), ("C", 0.3)]) == ("B", 0.5)
    assert book.moves == gone.moves == Counter({"ruled out": 1})


def test_evidence_is_counted_only_from_outcomes_known_before_the_case_opened() -> None:
    opened = T0 + timedelta(hours=10)
    early = [Case(id=f"E{i}", opened_at=T0, open_attrs=TWIN, first_group="B",
                  final_group="B", closed_at=T0 + timedelta(hours=h))
             for i, h in enumerate((1, 2, 3, 4, 5, 6, 7, 10, 11))]  # 7 closed before
    book = booked(early, alpha=0.01)
    assert book.choose(probe(opened), [("B", 0.6), ("A", 0.3)]) == ("B", 0.6)  # 7 to 0
    assert Counter(book.outcomes[combination(TWIN)]) == Counter({"B": 7})
    assert book.moves == Counter({"outcomes": 1})
    one_less = booked(early[1:], alpha=0.01)  # 6 to 0: p = 1/64, not significant at 1%
    assert one_less.choose(probe(opened), [("B", 0.6), ("A", 0.3)]) == ("A", 0.3)


def outcomes(groups: str) -> list[Case]:
    """Cases of `TWIN` that closed an hour after T0, resolved by `groups` in turn."""
    return [Case(id=f"O{i}", opened_at=T0, open_attrs=TWIN, first_group=g, final_group=g,
                 closed_at=T0 + timedelta(hours=1)) for i, g in enumerate(groups)]


def test_a_young_route_moves_on_two_outcomes_against_it_an_established_one_does_not() -> None:
    later = probe(T0 + timedelta(hours=2))
    ranked = [("B", 0.6), ("A", 0.3)]
    young = booked(outcomes("BB"), given=5)  # 2 to 0: p = 1/4, at most 0.25
    assert young.choose(later, ranked) == ("B", 0.6)
    assert young.moves == Counter({"young route": 1})
    assert young.given[combination(TWIN)] == 6  # this case was routed too
    assert booked(outcomes("B"), given=5).choose(later, ranked) == ("A", 0.3)  # one: never
    assert booked(outcomes("BBA"), given=1).choose(later, ranked) == ("A", 0.3)  # 2 to 1
    assert booked(outcomes("BBBBA"), given=1).choose(later, ranked) == ("B", 0.6)  # 4 to 1
    old = booked(outcomes("BBBBBB"), given=6)  # 6 to 0 after six cases: p = 1/64 > 0.01
    assert old.choose(later, ranked) == ("A", 0.3) and old.moves == Counter({"kept": 1})
    # The outcomes must favour the model's new choice, not merely contradict the route.
    assert booked(outcomes("CC"), given=1).choose(later, ranked) == ("A", 0.3)
    # young=0 turns it off (a route has been given to its first case at least): only the
    # strict test moves a route then.
    off = StableRoutes(outcomes("BB"), young=0)
    off.routes[combination(TWIN)] = "A"
    off.given[combination(TWIN)] = 1
    assert off.choose(later, ranked) == ("A", 0.3)


def test_routes_are_counted_as_cases_are_routed() -> None:
    book = StableRoutes([])
    for hour in range(3):
        book.choose(probe(T0 + timedelta(hours=hour)), [("A", 0.7), ("B", 0.2)])
    book.choose(probe(T0 + timedelta(hours=4)), [])  # no candidates: not routed
    assert book.given == Counter({combination(TWIN): 3})


def test_outcomes_that_favour_the_kept_group_hold_the_route() -> None:
    mixed = [Case(id=f"M{i}", opened_at=T0, open_attrs=TWIN, first_group=group,
                  final_group=group, closed_at=T0 + timedelta(hours=1))
             for i, group in enumerate("BBBBBBBBAAA")]  # 8 to 3: p = 0.11
    book = booked(mixed, alpha=0.01)
    assert book.choose(probe(T0 + timedelta(hours=2)), [("B", 0.7), ("A", 0.2)])[0] == "A"


def measured(models: list[str], engine: list[str]) -> dict[str, object]:
    """Ten later cases of one combination (all end in A), as `measure` reports them."""
    log = [Case(id=f"C{i:02d}", opened_at=T0 + timedelta(hours=i), open_attrs=TWIN,
                first_group="A", final_group="A", closed_at=T0 + timedelta(hours=i + 1))
           for i in range(len(engine))]
    decisions: dict[str, dict[str, object]] = {
        c.id: {"group": group, "confidence": 0.5, "verdict": "approval", "latency_s": 0.0,
               "engine_ms": 0.0, **({"model_group": model} if model else {})}
        for c, group, model in zip(log, engine, models, strict=True)}
    consistency: dict[str, object] = measure(log, decisions, test_share=0.99)["consistency"]
    return consistency


def test_the_accuracy_cost_is_the_models_own_accuracy_less_the_engines() -> None:
    engine = list("BBBAAAAAAA")  # right on 7 of 10
    c = measured(list("BAAAAAAAAB"), engine)  # the model alone: right on 8 of 10
    assert c["model_accuracy"] == 0.8 and c["accuracy_cost"] == 0.1 and c["cost_cases"] == 1
    assert c["engine_disagreement"] == round(21 / 45, 4)  # 3 B x 7 A of 45 pairs
    assert (c["engine_pairs_apart"], c["human_pairs_apart"], c["pairs"]) == (21, 0, 45)
    assert c["model_disagreement"] == round(16 / 45, 4)  # 2 B x 8 A
    gained = measured(list("BBBBAAAAAA"), engine)
    assert gained["accuracy_cost"] == -0.1  # keeping the route was right more often
    unknown = measured(["", *"AAAAAAAAA"], engine)  # a router without a choice of its own
    assert unknown["accuracy_cost"] is None and unknown["model_accuracy"] is None


def test_the_cost_is_broken_down_by_the_combinations_that_gave_it() -> None:
    # A burst of five identical cases kept on a wrong route (the model had four right), a
    # pair where keeping the route was right, and a combination where both agree.
    rows = [("burst", "B", "A", "A")] * 4 + [("burst", "B", "B", "A"),
                                              ("pair", "C", "D", "C"), ("pair", "C", "C", "C"),
                                              ("same", "E", "E", "E"), ("same", "E", "E", "F")]
    log, decisions = [], {}
    for i, (key, engine, model, final) in enumerate(rows):
        case = Case(id=f"C{i:02d}", opened_at=T0 + timedelta(hours=i),
                    open_attrs={"caller_id": key, "category": key.upper()}, first_group=final,
                    final_group=final, closed_at=T0 + timedelta(hours=i + 1))
        log.append(case)
        decisions[case.id] = {"group": engine, "confidence": 0.5, "verdict": "approval",
                              "latency_s": 0.0, "engine_ms": 0.0, "model_group": model}
    c = measure(log, decisions, test_share=0.99)["consistency"]
    by = c["cost_by_combination"]
    assert c["cost_cases"] == 3 and by["lost"] - by["won"] == c["cost_cases"]
    assert (by["combinations"], by["lost"], by["won"]) == (2, 4, 1)  # "same" never differed
    burst, pair = by["largest"]
    assert burst == {"class": "BURST", "first_case": "C00",
                     "first_opened": T0.isoformat(), "cases": 5, "differed": 4, "lost": 4,
                     "won": 0, "net": 4, "engine_group": "B", "model_group": "A"}
    assert (pair["class"], pair["cases"], pair["differed"], pair["net"]) == ("PAIR", 2, 1, -1)
    text = consistency_text(c, 0.5)
    assert ("; one combination of 5 identical cases (BURST, from C00) cost 4, the 1 other "
            "combination where the routes differed 0 lost and 1 won back") in text
    # Nothing is named when keeping routes cost nothing.
    assert "combination" not in consistency_text({**c, "cost_cases": 0}, 0.5)


def test_the_report_judges_both_halves_of_the_consistency_goal() -> None:
    base = {"engine_disagreement": 0.04, "human_disagreement": 0.05, "pairs": 100,
            "engine_pairs_apart": 4, "human_pairs_apart": 5, "model_accuracy": 0.78,
            "accuracy_cost": 0.01, "cost_cases": 10}
    assert consistency_holds(base) is True  # exactly 1 point is allowed
    assert consistency_holds({**base, "accuracy_cost": 0.010049}) is False
    assert consistency_holds({**base, "engine_pairs_apart": 6}) is False
    assert consistency_holds({**base, "accuracy_cost": None}) is None
    text = consistency_text(base, 0.77)
    assert "engine 4.00%, people 5.00%" in text
    assert "accuracy cost 1.000 points (77.00% with stable routes, 78.00% without)" in text
