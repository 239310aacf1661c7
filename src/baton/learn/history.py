"""Leakage-free outcome statistics: what closed cases taught us, as of a point in time.

`OutcomeHistory` counts final groups per key (an attribute or a combination of attributes)
over CLOSED cases only, and turns a new case's open-time attributes into a short list of
candidate groups with one feature row each. `AsOfEncoder` replays opens and closes in time
order so that every case is encoded with exactly the outcomes known before it opened:
a close at the same minute as an open is not yet known to it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from baton.learn.cases import Case

MISSING_VALUE = "\u2205"
"""Value of an attribute a case does not have; missingness is itself informative."""

Key = tuple[str, ...]

SERVICENOW_KEYS: tuple[Key, ...] = (
    ("caller_id",), ("opened_by",), ("sys_created_by",), ("location",), ("category",),
    ("subcategory",), ("u_symptom",), ("contact_type",), ("category", "subcategory"),
    ("subcategory", "u_symptom"), ("location", "category"), ("caller_id", "category"),
    ("opened_by", "subcategory"), ("sys_created_by", "category"),
    ("impact", "urgency", "priority"), ("sys_created_by", "opened_by"),
)
"""The keys chosen on the ServiceNow log (time-ordered validation, see `routing`)."""


def keys_for(attributes: Sequence[str]) -> tuple[Key, ...]:
    """Keys for these attributes: the ServiceNow keys on that schema, else one per attribute.

    On a log that has every attribute the ServiceNow keys use, exactly those keys (the
    other ServiceNow attributes, e.g. cmdb_ci or notify, added nothing on validation).
    Otherwise the ServiceNow keys that apply, plus one key per remaining attribute.
    """
    present = set(attributes)
    if {name for key in SERVICENOW_KEYS for name in key} <= present:
        return SERVICENOW_KEYS
    keys = [key for key in SERVICENOW_KEYS if set(key) <= present]
    covered = {name for key in keys for name in key}
    keys.extend((name,) for name in dict.fromkeys(attributes) if name not in covered)
    return tuple(keys)


@dataclass(frozen=True)
class Encoded:
    """Candidate groups for one case, best first, and one feature row per candidate."""

    groups: tuple[str, ...]
    features: NDArray[np.float32]
    outcomes: int = 0  # closed cases the statistics held when it was encoded


class OutcomeHistory:
    """Counts of final groups per key value over the closed cases added so far."""

    def __init__(self, keys: Sequence[Key] = SERVICENOW_KEYS, *, alpha: float = 2.0,
                 candidates: int = 8) -> None:
        self.keys = tuple(tuple(key) for key in keys)
        self.alpha = alpha
        self.candidates = candidates
        self._counts: list[dict[str, dict[int, int]]] = [{} for _ in self.keys]
        self._totals: list[dict[str, int]] = [{} for _ in self.keys]
        self._ids: dict[str, int] = {}
        self._names: list[str] = []
        self._group_totals: list[int] = []
        self.outcomes = 0

    @property
    def width(self) -> int:
        """Number of features per candidate row."""
        return 3 + 2 * len(self.keys)

    def _values(self, attrs: Mapping[str, str]) -> list[str]:
        return ["|".join(attrs.get(name, MISSING_VALUE) for name in key) for key in self.keys]

    def add(self, attrs: Mapping[str, str], group: str) -> None:
        """Count one closed case's final group under each of its key values."""
        gid = self._ids.get(group)
        if gid is None:
            gid = self._ids[group] = len(self._names)
            self._names.append(group)
            self._group_totals.append(0)
        for j, value in enumerate(self._values(attrs)):
            per_group = self._counts[j].setdefault(value, {})
            per_group[gid] = per_group.get(gid, 0) + 1
            self._totals[j][value] = self._totals[j].get(value, 0) + 1
        self._group_totals[gid] += 1
        self.outcomes += 1

    def encode(self, attrs: Mapping[str, str]) -> Encoded:
        """Rank groups for these open-time attributes and describe the top candidates."""
        n_groups, n_keys = len(self._names), len(self.keys)
        if n_groups == 0:
            return Encoded((), np.zeros((0, self.width), dtype=np.float32), 0)
        counts = np.zeros((n_keys, n_groups))
        totals = np.zeros(n_keys)
        for j, value in enumerate(self._values(attrs)):
            per_group = self._counts[j].get(value)
            if per_group:
                totals[j] = self._totals[j][value]
                for gid, count in per_group.items():
                    counts[j, gid] = count
        prior = (np.asarray(self._group_totals, dtype=float) + 1.0) / (self.outcomes + n_groups)
        smoothed = (counts + self.alpha * prior) / (totals[:, None] + self.alpha)
        lift = np.log(smoothed) - np.log(prior)  # 0 where the key value was never seen
        score = lift.sum(axis=0)
        top = np.lexsort((np.arange(n_groups), -score))[: self.candidates]
        rows = np.empty((len(top), self.width), dtype=np.float32)
        rows[:, 0] = np.log(prior[top])
        rows[:, 1] = score[top]
        rows[:, 2] = np.arange(len(top))
        rows[:, 3 : 3 + n_keys] = lift[:, top].T
        rows[:, 3 + n_keys :] = np.log1p(totals)[None, :]
        return Encoded(tuple(self._names[int(t)] for t in top), rows, self.outcomes)


class AsOfEncoder:
    """Replays case opens and closes in time order; encodes each case when it opens."""

    def __init__(self, history: OutcomeHistory) -> None:
        self.history = history
        self.clock: datetime | None = None
        self.encoded: dict[str, Encoded] = {}
        self.late = 0
        self._seen: set[str] = set()
        self._events: list[tuple[datetime, int, str, Case]] = []

    def advance(self, cases: Iterable[Case], until: datetime) -> None:
        """Take in new cases, then apply every open and close strictly before `until`."""
        if self.clock is not None and until < self.clock:
            raise ValueError(f"cannot go back in time from {self.clock} to {until}")
        for case in cases:
            if case.id in self._seen:
                continue
            self._seen.add(case.id)
            closed = case.outcome_known_at
            if self.clock is None or case.opened_at >= self.clock:
                heapq.heappush(self._events, (case.opened_at, 0, case.id, case))
            if self.clock is None or closed >= self.clock:
                heapq.heappush(self._events, (closed, 1, case.id, case))
            else:
                self.late += 1  # its outcome came before the clock: too late to count
        while self._events and self._events[0][0] < until:
            _, kind, case_id, case = heapq.heappop(self._events)
            if kind == 0:
                self.encoded[case_id] = self.history.encode(case.open_attrs)
            else:
                self.history.add(case.open_attrs, case.final_group)
        self.clock = until
