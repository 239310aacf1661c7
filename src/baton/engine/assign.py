"""Assign work to people: an optimal batch assignment, and the greedy baseline of a hierarchy.

Pure and deterministic: no I/O, no clock, no randomness. Inputs are sorted by id before
anything is decided, so the same items, people, load and time give the same assignments
whatever order they came in.

Eligibility (`eligible`), in this order:

1. A person with capacity 0 takes no work.
2. Tickets and incidents go to people who do the work: managers, directors and auditors
   (`NOT_ASSIGNABLE`) are never assigned one. Approvals go only to people who may
   approve (access `approver` or `admin`, `APPROVER_ACCESS`), whatever their role.
3. An item that requires a skill goes to people who have that skill, on any team
   (cross-team help); an item without a skill but with an owning team goes to that
   team's members; an item with neither goes to anyone who passed 1 and 2.

`assign_optimal` solves one batch as a linear assignment problem
(`scipy.optimize.linear_sum_assignment`). Rows are the items; columns are the free
capacity slots (capacity minus current load, one column per free slot, for every person)
and one "queued" column per item. The cost of a pair (item, slot k of person p):

- not eligible, or off-hours for a non-urgent item: forbidden (infinite; never assigned);
- always: `load * (load_p + k) / capacity_p` (spread work over people with room);
- when the item has an owning team and p is not on it: `outside_team`;
- when p is at work now but their hours end before the expected work would: `shift_end`;
- when p is off-hours (urgent items only): `off_hours + fairness * (pages_p + k)
  + urgency_delay * urgency`, where pages_p is the off-hours pages p already took (and k
  counts the pages p gets earlier in this batch, so pages spread within a batch too), and
  the urgency term gives the items closest to their due time the people at work, who
  start sooner than a person woken by a page.

Leaving an item queued costs `queue * (1 + urgency)`, or `queue_urgent * (1 + urgency)`
for an urgent one. `urgency` is `slack_minutes / (slack_minutes + slack)` with slack the
minutes left before the item is due, less its expected effort (0 when overdue, so the
urgency is 1). The default weights are ordered so that:

- a non-urgent item is never left queued while an eligible person at work has a free
  slot (`queue` exceeds every at-work cost), and never pages anyone (forbidden);
- an urgent item pages someone off-hours rather than wait when nobody eligible at work has
  a free slot (`queue_urgent` exceeds the page cost), and then the person with the fewest
  earlier pages (`fairness` exceeds the load term);
- an urgent item takes an at-work slot before a non-urgent one would (`off_hours` exceeds
  what queueing the non-urgent item costs);
- when slots are scarce the items with the least slack get them (queue cost grows with
  urgency).

`assign_greedy` is what a hierarchy does by hand: items in arrival order, each to the first
eligible person in the organisation's order who has a free slot, without looking at
anyone's working hours (so it pages people off-hours, for any item).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from baton.org.model import Person

Kind = Literal["ticket", "incident", "approval"]
KINDS: tuple[str, ...] = ("ticket", "incident", "approval")
NOT_ASSIGNABLE = frozenset({"manager", "director", "auditor"})  # take no tickets or incidents
APPROVER_ACCESS = frozenset({"approver", "admin"})  # access levels that may approve


@dataclass(frozen=True)
class WorkItem:
    """One piece of work waiting for a person."""

    id: str
    kind: Kind
    team: str | None  # the owning team, if any
    skill: str | None  # the skill the work needs, if any
    created: datetime
    due: datetime  # the SLA deadline for finishing the work
    minutes: float  # expected effort
    urgent: bool = False  # may page someone outside their working hours

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.created.tzinfo is None or self.due.tzinfo is None:
            raise ValueError(f"{self.id}: created and due must carry a time zone")
        if not math.isfinite(self.minutes) or self.minutes < 0:
            raise ValueError(f"{self.id}: minutes must be a finite number >= 0")


@dataclass(frozen=True)
class Assignment:
    """Who takes an item (None: it stays queued), whether that pages them, and why."""

    item: str
    person: str | None
    off_hours: bool
    reason: str


@dataclass(frozen=True)
class Weights:
    """The cost terms of `assign_optimal` (see the module docstring for what each does)."""

    off_hours: float = 1000.0
    fairness: float = 50.0
    urgency_delay: float = 100.0
    load: float = 10.0
    outside_team: float = 5.0
    shift_end: float = 20.0
    queue: float = 100.0
    queue_urgent: float = 100_000.0
    slack_minutes: float = 60.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"weight {f.name} must be a finite number >= 0, got {value}")
        if self.slack_minutes <= 0:
            raise ValueError("slack_minutes must be > 0")
        if self.queue <= self.load + self.outside_team + self.shift_end:
            raise ValueError("queue must exceed load + outside_team + shift_end, or work "
                             "would stay queued while someone at work has room for it")


DEFAULT_WEIGHTS = Weights()


def eligible(item: WorkItem, person: Person) -> bool:
    """True when `person` may be given `item` (the rules are in the module docstring)."""
    if person.capacity <= 0:
        return False
    if item.kind == "approval":
        if person.access not in APPROVER_ACCESS:
            return False
    elif person.role in NOT_ASSIGNABLE:
        return False
    if item.skill is not None:
        return item.skill in person.skills
    if item.team is not None:
        return person.team == item.team
    return True


def urgency(item: WorkItem, now: datetime, slack_minutes: float) -> float:
    """How pressing the item is at `now`: 1 when overdue, towards 0 with plenty of slack."""
    slack = (item.due - now).total_seconds() / 60.0 - item.minutes
    return slack_minutes / (slack_minutes + max(0.0, slack))


def queue_cost(item: WorkItem, now: datetime, weights: Weights) -> float:
    """What leaving `item` queued for now costs."""
    base = weights.queue_urgent if item.urgent else weights.queue
    return base * (1.0 + urgency(item, now, weights.slack_minutes))


def _aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")


def _sorted_unique(items: Iterable[WorkItem], people: Iterable[Person]
                   ) -> tuple[list[WorkItem], list[Person]]:
    its = sorted(items, key=lambda i: i.id)
    ps = sorted(people, key=lambda p: p.id)
    for what, ids in (("item", [i.id for i in its]), ("person", [p.id for p in ps])):
        dup = next((a for a, b in pairwise(ids) if a == b), None)
        if dup is not None:
            raise ValueError(f"{what} {dup!r} appears twice")
    return its, ps


class _Costs:
    """Cost terms for one batch: who is at work, free slots, and pair costs."""

    def __init__(self, people: Sequence[Person], *, load: Mapping[str, int],
                 pages: Mapping[str, int], now: datetime, weights: Weights) -> None:
        self.now, self.w = now, weights
        self.load = {p.id: max(0, load.get(p.id, 0)) for p in people}
        self.pages = {p.id: max(0, pages.get(p.id, 0)) for p in people}
        self.at_work = {p.id: p.working(now) for p in people}
        self.free = {p.id: max(0, p.capacity - self.load[p.id]) for p in people}
        self._split: dict[tuple[str, str | None, str | None, bool, float, str],
                          tuple[float, float | None]] = {}

    def base(self, item: WorkItem, person: Person) -> float:
        """The slot-independent cost of giving `item` to `person` (inf: forbidden)."""
        fixed, off_hours = self.split(item, person)
        if off_hours is None:
            return fixed
        return fixed + (off_hours
                        + self.w.urgency_delay * urgency(item, self.now, self.w.slack_minutes))

    def split(self, item: WorkItem, person: Person) -> tuple[float, float | None]:
        """`base` as its part fixed by the item's kind, skill, team, urgency flag and effort,
        and, for a person off-hours, the page cost that `urgency_delay * urgency` adds to.
        """
        key = (item.kind, item.skill, item.team, item.urgent, item.minutes, person.id)
        found = self._split.get(key)
        if found is None:
            found = self._split[key] = self._split_of(item, person)
        return found

    def _split_of(self, item: WorkItem, person: Person) -> tuple[float, float | None]:
        if not eligible(item, person):
            return math.inf, None
        at_work, w = self.at_work[person.id], self.w
        if not at_work and not item.urgent:
            return math.inf, None
        cost = 0.0
        if item.team is not None and person.team != item.team:
            cost += w.outside_team
        if at_work:
            if not person.working(self.now + timedelta(minutes=item.minutes)):
                cost += w.shift_end
            return cost, None
        return cost, w.off_hours + w.fairness * self.pages[person.id]

    def slot(self, person: Person, k: int) -> float:
        """The cost of slot k (0-based within this batch) of `person`, item aside."""
        w, pid = self.w, person.id
        cost = w.load * (self.load[pid] + k) / person.capacity
        if not self.at_work[pid]:
            cost += w.fairness * k
        return cost


def assign_optimal(items: Iterable[WorkItem], people: Iterable[Person], *,
                   load: Mapping[str, int], off_hours_pages: Mapping[str, int],
                   now: datetime, weights: Weights = DEFAULT_WEIGHTS,
                   assigned_only: bool = False) -> list[Assignment]:
    """Assign one batch at minimum total cost; one Assignment per item, by item id.

    `load` is the number of items each person holds now (missing: 0), `off_hours_pages` the
    off-hours pages each already took. An item is never given to an ineligible person, a
    non-urgent one never to anyone off-hours, and nobody gets more than their free slots.
    With `assigned_only` the items left queued are left out (and their reasons never
    worked out), for callers that record only what was assigned.
    """
    _aware(now)
    its, ps = _sorted_unique(items, people)
    if not its:
        return []
    costs = _Costs(ps, load=load, pages=off_hours_pages, now=now, weights=weights)
    owners: list[tuple[Person, int]] = [(p, k) for p in ps for k in range(costs.free[p.id])]
    n, s = len(its), len(owners)
    chosen: dict[int, Person | None] = dict.fromkeys(range(n))
    if s:  # with no free slot, leaving every item queued is the only plan
        urg_all = [urgency(item, now, weights.slack_minutes) for item in its]
        open_people = [p for p in ps if costs.free[p.id]]
        classes: dict[tuple[str, str | None, str | None, bool, float], list[int]] = {}
        for row, item in enumerate(its):
            classes.setdefault((item.kind, item.skill, item.team, item.urgent, item.minutes),
                               []).append(row)
        keep = _contenders(classes, its, urg_all, open_people, costs, s, weights)
        m = len(keep)
        urg = np.array([urg_all[r] for r in keep])
        # the same matrix as base() and slot() give pair by pair, built by item class
        matrix = np.full((m, s + m), math.inf)
        diagonal = np.arange(m)
        matrix[diagonal, s + diagonal] = np.array(
            [weights.queue_urgent if its[r].urgent else weights.queue for r in keep]
        ) * (1.0 + urg)  # queue_cost() of each item
        local = {r: i for i, r in enumerate(keep)}
        bases = np.empty((m, len(open_people)))
        for members in classes.values():
            at = np.array([local[r] for r in members if r in local], dtype=int)
            if not len(at):
                continue
            for j, p in enumerate(open_people):
                fixed, off_hours = costs.split(its[members[0]], p)
                bases[at, j] = fixed if off_hours is None else \
                    fixed + (off_hours + weights.urgency_delay * urg[at])
        slot_cost = np.array([costs.slot(p, k) for p, k in owners], dtype=float)
        person_of = np.repeat(np.arange(len(open_people)),
                              [costs.free[p.id] for p in open_people])
        matrix[:, :s] = bases[:, person_of] + slot_cost
        rows, cols = linear_sum_assignment(matrix)
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            chosen[keep[row]] = owners[col][0] if col < s and math.isfinite(matrix[row, col]) \
                else None
    out: list[Assignment] = []
    for row, item in enumerate(its):
        person = chosen[row]
        if person is None:
            if not assigned_only:
                out.append(Assignment(item.id, None, False, _why_queued(item, ps, costs)))
        else:
            out.append(Assignment(item.id, person.id, not costs.at_work[person.id],
                                  _why_optimal(item, person, ps, costs)))
    return out


def _contenders(classes: Mapping[tuple[str, str | None, str | None, bool, float], list[int]],
                its: Sequence[WorkItem], urg: Sequence[float], open_people: Sequence[Person],
                costs: _Costs, slots: int, weights: Weights) -> list[int]:
    """The rows that can take a slot in some optimal plan: per item class, the `slots`
    most urgent items, where that is exact.

    Within a class, items differ only in urgency u, and what assigning one instead of
    leaving it queued saves on a slot is a constant plus (queue - urgency_delay) * u on
    an off-hours person, or queue * u on one at work. When that never falls as u grows,
    swapping a queued item for a less urgent assigned one never costs more, so some
    optimal plan assigns only a class's most urgent items, and at most `slots` of them.
    """
    keep: list[int] = []
    for members in classes.values():
        first = its[members[0]]
        queue = weights.queue_urgent if first.urgent else weights.queue
        pages = any(costs.split(first, p)[1] is not None for p in open_people)
        if len(members) <= slots or (pages and queue < weights.urgency_delay):
            keep.extend(members)
            continue
        keep.extend(sorted(members, key=lambda r: (-urg[r], r))[:slots])
    return sorted(keep)


def plan_cost(assignments: Iterable[Assignment], items: Iterable[WorkItem],
              people: Iterable[Person], *, load: Mapping[str, int],
              off_hours_pages: Mapping[str, int], now: datetime,
              weights: Weights = DEFAULT_WEIGHTS) -> float:
    """The total cost `assign_optimal` minimises, for any plan (inf: the plan is infeasible).

    Items without an assignment count as queued; a person given more items than free
    slots, or an item given to someone it may not go to, makes the plan infeasible.
    """
    _aware(now)
    its, ps = _sorted_unique(items, people)
    costs = _Costs(ps, load=load, pages=off_hours_pages, now=now, weights=weights)
    by_person = {p.id: p for p in ps}
    plan = {a.item: a.person for a in assignments}
    total, used = 0.0, dict.fromkeys(by_person, 0)
    for item in its:
        pid = plan.get(item.id)
        if pid is None:
            total += queue_cost(item, now, weights)
            continue
        person = by_person.get(pid)
        if person is None or used[pid] >= costs.free[pid]:
            return math.inf
        total += costs.base(item, person) + costs.slot(person, used[pid])
        used[pid] += 1
    return total


def assign_greedy(items: Iterable[WorkItem], people: Sequence[Person], *,
                  load: Mapping[str, int], now: datetime) -> list[Assignment]:
    """The baseline: by arrival, the first eligible person (in `people`'s order) with room.

    Working hours are not looked at, so whoever comes first is paged at any hour.
    """
    _aware(now)
    free = {p.id: max(0, p.capacity - max(0, load.get(p.id, 0))) for p in people}
    out: list[Assignment] = []
    for item in sorted(items, key=lambda i: (i.created, i.id)):
        person = next((p for p in people if free[p.id] > 0 and eligible(item, p)), None)
        if person is None:
            why = ("nobody is eligible" if not any(eligible(item, p) for p in people)
                   else "every eligible person is at capacity")
            out.append(Assignment(item.id, None, False, f"queued: {why}"))
            continue
        free[person.id] -= 1
        off = not person.working(now)
        out.append(Assignment(
            item.id, person.id, off,
            f"first eligible person with room, in the organisation's order"
            f"{' (paged off-hours, ' + _clock(person, now) + ')' if off else ''}"))
    return out


def _clock(person: Person, now: datetime) -> str:
    return f"{person.local(now):%a %H:%M} {person.timezone}"


def _fit(item: WorkItem, person: Person) -> str:
    who = f"may approve ({person.access})" if item.kind == "approval" else person.role
    if item.skill is not None:
        return f"{who} with skill {item.skill}" + (
            f", team {person.team}" if item.team in (None, person.team)
            else f", from team {person.team} (owner: {item.team})")
    if item.team is not None:
        return f"{who} on team {item.team}"
    return who


def _why_optimal(item: WorkItem, person: Person, people: Sequence[Person],
                 costs: _Costs) -> str:
    pid = person.id
    head = (f"{_fit(item, person)}; held {costs.load[pid]} of {person.capacity} before this "
            f"batch")
    if costs.at_work[pid]:
        return f"at work ({_clock(person, costs.now)}); {head}"
    off = [costs.pages[p.id] for p in people if eligible(item, p) and not costs.at_work[p.id]]
    at_work = [p for p in people if eligible(item, p) and costs.at_work[p.id]]
    why = ("nobody eligible is at work" if not at_work
           else "every eligible person at work is at capacity or took a more pressing item")
    fairness = f"{costs.pages[pid]} earlier off-hours pages"
    fairness += (", the fewest among those eligible off-hours" if costs.pages[pid] <= min(off)
                 else f" (someone had {min(off)}, but no free slot or a higher load)")
    return (f"paged off-hours ({_clock(person, costs.now)}): urgent and {why}; {fairness}; "
            f"{head}")


def _why_queued(item: WorkItem, people: Sequence[Person], costs: _Costs) -> str:
    able = [p for p in people if eligible(item, p)]
    if not able:
        need = (f"skill {item.skill}" if item.skill is not None
                else f"team {item.team}" if item.team is not None else "anyone assignable")
        return f"queued: nobody is eligible (needs {need})"
    at_work = [p for p in able if costs.at_work[p.id]]
    if not item.urgent and not at_work:
        return ("queued: not urgent and nobody eligible is at work; it waits for working "
                "hours rather than page anyone")
    pool = at_work if not item.urgent else able
    if any(costs.free[p.id] > 0 for p in pool):
        return "queued: the free slots went to items due sooner in this batch"
    if not item.urgent:
        return "queued: every eligible person at work is at capacity; it waits for a free slot"
    return "queued: every eligible person is at capacity"
