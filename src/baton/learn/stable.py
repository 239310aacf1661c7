"""Stable routes: identical cases keep their group across retrains unless evidence says so.

A retrained model may rank groups a little differently, which would route two identical
cases (same open-time attributes) apart only because a retrain fell between them. Here the
first route given to an attribute combination is kept while the model still rates the old
group at least `tie` times as likely as its new choice (a near tie that a retrain
tipped); the new choice replaces it when the model clearly prefers it, or when the
outcomes of that very combination, known before the case opened, favour the new group
by at least `margin` cases.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime

from baton.learn.cases import Case

Combination = tuple[tuple[str, str], ...]


def combination(attrs: Mapping[str, str]) -> Combination:
    """The identity of a case for consistency: all its open-time attributes."""
    return tuple(sorted(attrs.items()))


class StableRoutes:
    """Keeps one route per attribute combination; learns outcomes strictly as of a time."""

    def __init__(self, cases: Sequence[Case], *, margin: int = 2, tie: float = 0.5) -> None:
        self.margin = margin
        self.tie = tie
        self.routes: dict[Combination, str] = {}
        self.outcomes: dict[Combination, Counter[str]] = {}
        self.kept = self.switched = 0
        self._closes = sorted(cases, key=lambda c: (c.outcome_known_at, c.id))
        self._next = 0

    def _learn_until(self, moment: datetime) -> None:
        while self._next < len(self._closes) and \
                self._closes[self._next].outcome_known_at < moment:
            case = self._closes[self._next]
            self.outcomes.setdefault(combination(case.open_attrs), Counter())[
                case.final_group] += 1
            self._next += 1

    def choose(self, case: Case, ranked: Sequence[tuple[str, float]]) -> tuple[str, float]:
        """The group and confidence for `case`, given the model's ranked candidates."""
        if not ranked:
            return "", 0.0
        self._learn_until(case.opened_at)
        key = combination(case.open_attrs)
        new, confidence = ranked[0]
        old = self.routes.get(key)
        if old is None or old == new:
            self.routes[key] = new
            return new, confidence
        ranks = dict(ranked)
        seen = self.outcomes.get(key, Counter())
        near_tie = ranks.get(old, 0.0) >= self.tie * confidence
        if near_tie and seen[new] - seen[old] < self.margin:
            self.kept += 1
            return old, ranks[old]
        self.switched += 1
        self.routes[key] = new
        return new, confidence
