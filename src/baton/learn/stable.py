"""Stable routes: identical cases keep their group across retrains until evidence moves it.

A retrained model may rank groups differently, which would route two identical cases (same
open-time attributes) apart only because a retrain fell between them. Here the first route
given to an attribute combination is kept, and it moves to the model's new choice only on
evidence that it is wrong:
- the outcomes of that very combination, known before the case opened, favour the new
  group over the kept one in a one-sided exact sign test at level `alpha` (at 0.01: at
  least 7 to 0, 10 to 1 or 12 to 2 cases); or
- the route is young, given to at most `young` earlier cases of the combination, and its
  outcomes favour the new group at the lighter level `young_alpha` (at 0.25: 2 to 0, 4 to
  1 or 6 to 2). Moving a route splits the cases already sent along it from the ones to
  come, so a route few cases have followed may move on less evidence; a single outcome is
  never enough, as one case resolved elsewhere is routine (a reassignment); or
- the model now rules the kept group out: it gives it less than `floor` probability (or
  no longer lists it among its candidates).
A model that merely prefers another group, even clearly, does not move a route. Not moving
costs accuracy where the first route was a wrong guess, so the replay reports the model's
own choice beside the kept one, and the accuracy both would have had.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from math import comb

from baton.learn.cases import Case

Combination = tuple[tuple[str, str], ...]


def combination(attrs: Mapping[str, str]) -> Combination:
    """The identity of a case for consistency: all its open-time attributes."""
    return tuple(sorted(attrs.items()))


def sign_test(wins: int, losses: int) -> float:
    """One-sided exact sign test: the chance of `wins` or more of `wins + losses` at 1/2."""
    n = wins + losses
    if n == 0:
        return 1.0
    return sum(comb(n, k) for k in range(wins, n + 1)) / (1 << n)


class StableRoutes:
    """Keeps one route per attribute combination; learns outcomes strictly as of a time."""

    def __init__(self, cases: Sequence[Case], *, alpha: float = 0.01, floor: float = 0.05,
                 young: int = 5, young_alpha: float = 0.25) -> None:
        self.alpha = alpha
        self.floor = floor
        self.young, self.young_alpha = young, young_alpha
        self.routes: dict[Combination, str] = {}
        self.given: Counter[Combination] = Counter()  # cases routed, per combination
        self.outcomes: dict[Combination, Counter[str]] = {}
        self.moves: Counter[str] = Counter()  # kept / outcomes / young route / ruled out
        self._closes = sorted(cases, key=lambda c: (c.outcome_known_at, c.id))
        self._next = 0

    def _learn_until(self, moment: datetime) -> None:
        while self._next < len(self._closes) and \
                self._closes[self._next].outcome_known_at < moment:
            case = self._closes[self._next]
            self.outcomes.setdefault(combination(case.open_attrs), Counter())[
                case.final_group] += 1
            self._next += 1

    def why_move(self, key: Combination, old: str, new: str,
                 ranks: Mapping[str, float]) -> str | None:
        """The evidence that moves `key`'s route from `old` to `new`, or None: keep it."""
        seen = self.outcomes.get(key, Counter())
        p = sign_test(seen[new], seen[old])
        if p <= self.alpha:
            return "outcomes"
        if self.given[key] <= self.young and p <= self.young_alpha:
            return "young route"
        if ranks.get(old, 0.0) < self.floor:
            return "ruled out"
        return None

    def choose(self, case: Case, ranked: Sequence[tuple[str, float]]) -> tuple[str, float]:
        """The group and confidence for `case`, given the model's ranked candidates."""
        if not ranked:
            return "", 0.0
        self._learn_until(case.opened_at)
        key = combination(case.open_attrs)
        new, confidence = ranked[0]
        old = self.routes.get(key)
        if old is None or old == new:
            self.given[key] += 1
            self.routes[key] = new
            return new, confidence
        ranks = dict(ranked)
        why = self.why_move(key, old, new, ranks)  # weighs the cases routed before this one
        self.given[key] += 1
        if why is None:
            self.moves["kept"] += 1
            return old, ranks.get(old, 0.0)
        self.moves[why] += 1
        self.routes[key] = new
        return new, confidence
