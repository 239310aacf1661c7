"""Assigning work to people: the optimal batch assignment against the greedy baseline."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from baton.engine.assign import (
    Assignment,
    Weights,
    WorkItem,
    assign_greedy,
    assign_optimal,
    eligible,
    plan_cost,
)
from baton.org.model import Person

# Monday 2 March 2026. At 10:00 UTC it is 11:00 in Berlin (at work), 05:00 in New York and
# 18:00 in Singapore (both off). At 14:00 UTC: Berlin 15:00 and New York 09:00 at work,
# Singapore 22:00 off. At 03:00 UTC: Singapore 11:00 at work, the others off.
T10 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
T14 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
T03 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
BERLIN, NEW_YORK, SINGAPORE = "Europe/Berlin", "America/New_York", "Asia/Singapore"


def person(pid: str, tz: str = BERLIN, *, team: str = "ops", role: str = "engineer",
           capacity: int = 2, skills: tuple[str, ...] = (), access: str = "viewer",
           hours: str = "09:00-17:00") -> Person:
    return Person.model_validate({
        "id": pid, "role": role, "team": team, "timezone": tz, "working_hours": hours,
        "skills": list(skills), "capacity": capacity, "access": access})


def item(iid: str, *, at: datetime = T10, team: str | None = "ops", skill: str | None = None,
         urgent: bool = False, age: float = 10.0, due_in: float = 240.0, minutes: float = 30.0,
         kind: str = "ticket") -> WorkItem:
    return WorkItem(id=iid, kind=kind, team=team, skill=skill,  # type: ignore[arg-type]
                    created=at - timedelta(minutes=age), due=at + timedelta(minutes=due_in),
                    minutes=minutes, urgent=urgent)


def plan(out: list[Assignment]) -> dict[str, str | None]:
    return {a.item: a.person for a in out}


def brute_force(items: list[WorkItem], people: list[Person], *, load: dict[str, int],
                pages: dict[str, int], now: datetime) -> float:
    """The least plan cost over every way of giving each item to someone or to nobody."""
    choices: list[str | None] = [p.id for p in people] + [None]
    best = math.inf
    for combo in itertools.product(choices, repeat=len(items)):
        plan_ = [Assignment(i.id, who, False, "") for i, who in zip(items, combo, strict=True)]
        best = min(best, plan_cost(plan_, items, people, load=load, off_hours_pages=pages,
                                   now=now))
    return best


def test_optimal_finds_the_optimum_where_greedy_blocks_the_only_specialist() -> None:
    # a can do x and y, b only x, each with one slot; x arrives first.
    people = [person("a", capacity=1, skills=("x", "y")), person("b", capacity=1, skills=("x",))]
    items = [item("i1", skill="x", age=20), item("i2", skill="y", age=10)]
    greedy = assign_greedy(items, people, load={}, now=T10)
    optimal = assign_optimal(items, people, load={}, off_hours_pages={}, now=T10)
    assert plan(greedy) == {"i1": "a", "i2": None}
    assert plan(optimal) == {"i1": "b", "i2": "a"}
    best = brute_force(items, people, load={}, pages={}, now=T10)
    assert plan_cost(optimal, items, people, load={}, off_hours_pages={}, now=T10) == best
    assert plan_cost(greedy, items, people, load={}, off_hours_pages={}, now=T10) > best


def test_optimal_matches_brute_force_on_a_mixed_batch() -> None:
    people = [
        person("a", BERLIN, capacity=1, skills=("x", "y")),
        person("b", BERLIN, capacity=2, skills=("x",)),
        person("c", SINGAPORE, capacity=2, skills=("x", "z")),
        person("d", NEW_YORK, capacity=1, skills=("z",)),
    ]
    load, pages = {"b": 1}, {"d": 2}
    items = [item("i1", skill="x", age=30, due_in=600),
             item("i2", skill="y", age=20),
             item("i3", skill="z", age=15, urgent=True, due_in=50),
             item("i4", skill="x", age=5, due_in=45),
             item("i5", skill="z", age=1)]
    optimal = assign_optimal(items, people, load=load, off_hours_pages=pages, now=T10)
    best = brute_force(items, people, load=load, pages=pages, now=T10)
    assert plan_cost(optimal, items, people, load=load, off_hours_pages=pages, now=T10) == (
        pytest.approx(best))
    # The only slot left for x at work goes to the item due sooner; the urgent z item pages
    # c (no pages yet) rather than d (two already); the non-urgent z item pages nobody.
    assert plan(optimal) == {"i1": None, "i2": "a", "i3": "c", "i4": "b", "i5": None}
    assert [a.off_hours for a in optimal] == [False, False, True, False, False]
    greedy = assign_greedy(items, people, load=load, now=T10)
    assert plan(greedy) == {"i1": "a", "i2": None, "i3": "c", "i4": "b", "i5": "c"}
    assert sum(a.off_hours for a in greedy) == 2  # it paged c for non-urgent work as well
    assert plan_cost(greedy, items, people, load=load, off_hours_pages=pages,
                     now=T10) > best


def test_follow_the_sun_pages_nobody_while_someone_eligible_is_at_work() -> None:
    people = [person("sin", SINGAPORE, capacity=3), person("ber", BERLIN, capacity=2),
              person("nyc", NEW_YORK, capacity=2)]
    urgent = [item(f"u{n}", at=T14, urgent=True, due_in=60) for n in range(4)]
    out = assign_optimal(urgent, people, load={}, off_hours_pages={}, now=T14)
    assert Counter(a.person for a in out) == {"ber": 2, "nyc": 2}
    assert not any(a.off_hours for a in out)
    assert all(a.reason.startswith("at work") for a in out)
    # The greedy baseline takes the first person in the organisation's order: paged at night.
    greedy = assign_greedy(urgent, people, load={}, now=T14)
    assert sum(a.off_hours for a in greedy) == 3
    # Later in the day (UTC 03:00) Singapore is at work and takes the work.
    night = [item(f"n{n}", at=T03, urgent=True, due_in=60) for n in range(3)]
    out = assign_optimal(night, people, load={}, off_hours_pages={}, now=T03)
    assert {a.person for a in out} == {"sin"} and not any(a.off_hours for a in out)
    # Only when every slot at work is taken does an urgent item page someone off-hours.
    five = [item(f"v{n}", at=T14, urgent=True, due_in=60) for n in range(5)]
    out = assign_optimal(five, people, load={}, off_hours_pages={}, now=T14)
    assert [a.person for a in out if a.off_hours] == ["sin"]
    assert "every eligible person at work is at capacity" in next(
        a.reason for a in out if a.off_hours)


def test_capacity_is_respected() -> None:
    people = [person("a", capacity=3), person("b", capacity=2), person("c", capacity=1),
              person("z", capacity=0)]
    load = {"a": 1, "b": 2}
    items = [item(f"i{n}", age=n) for n in range(10)]
    for out in (assign_optimal(items, people, load=load, off_hours_pages={}, now=T10),
                assign_greedy(items, people, load=load, now=T10)):
        given = Counter(a.person for a in out if a.person is not None)
        assert given == {"a": 2, "c": 1}  # b is full, z takes nothing
        queued = [a for a in out if a.person is None]
        assert len(queued) == 7
    out = assign_optimal(items, people, load=load, off_hours_pages={}, now=T10)
    assert all("at capacity" in a.reason or "due sooner" in a.reason
               for a in out if a.person is None)


def test_queued_when_nobody_is_at_work_unless_urgent_then_the_least_paged() -> None:
    people = [person("p1", NEW_YORK), person("p2", NEW_YORK), person("p3", SINGAPORE)]
    pages = {"p1": 3, "p2": 1, "p3": 2}
    calm = item("calm", due_in=600)
    fire = item("fire", urgent=True, due_in=60)
    out = assign_optimal([calm, fire], people, load={}, off_hours_pages=pages, now=T10)
    by_id = {a.item: a for a in out}
    assert by_id["calm"].person is None and not by_id["calm"].off_hours
    assert "waits for working hours" in by_id["calm"].reason
    # A hard rule, not a matter of weights: even when paging costs nothing it is not done.
    free_pages = Weights(off_hours=0.0, fairness=0.0, urgency_delay=0.0)
    out = assign_optimal([calm], people, load={}, off_hours_pages=pages, now=T10,
                         weights=free_pages)
    assert out[0].person is None
    assert by_id["fire"].person == "p2" and by_id["fire"].off_hours
    assert "1 earlier off-hours pages, the fewest" in by_id["fire"].reason
    # Two urgent items in one batch: p2 takes one; its next page would be its second, the
    # same as p3's count, and p3 has no load, so p3 takes the other.
    two = [fire, item("fire2", urgent=True, due_in=60)]
    out = assign_optimal(two, people, load={}, off_hours_pages=pages, now=T10)
    assert {a.person for a in out} == {"p2", "p3"} and all(a.off_hours for a in out)


def test_scarce_slots_go_to_the_items_due_soonest() -> None:
    people = [person("a", capacity=1)]
    items = [item("later", due_in=900, age=50), item("sooner", due_in=45, age=1),
             item("middle", due_in=300, age=20)]
    out = assign_optimal(items, people, load={}, off_hours_pages={}, now=T10)
    assert plan(out) == {"later": None, "middle": None, "sooner": "a"}
    assert plan(assign_greedy(items, people, load={}, now=T10))["later"] == "a"  # arrival order


def test_the_most_pressing_urgent_item_gets_the_person_at_work() -> None:
    # One slot at work, two urgent items: the one due sooner is not left to a page's delay.
    people = [person("here", capacity=1), person("away", SINGAPORE)]
    items = [item("a-later", urgent=True, due_in=240), item("z-sooner", urgent=True, due_in=40)]
    out = assign_optimal(items, people, load={}, off_hours_pages={}, now=T10)
    assert plan(out) == {"a-later": "away", "z-sooner": "here"}


def test_prefers_someone_who_stays_until_the_work_is_done() -> None:
    # 11:00 in Berlin: `leaving` goes home at 11:15, `staying` is busier but stays.
    people = [person("leaving", capacity=4, hours="07:00-11:15"),
              person("staying", capacity=4)]
    out = assign_optimal([item("t", minutes=45)], people, load={"staying": 2},
                         off_hours_pages={}, now=T10)
    assert plan(out) == {"t": "staying"}
    out = assign_optimal([item("t", minutes=10)], people, load={"staying": 2},
                         off_hours_pages={}, now=T10)
    assert plan(out) == {"t": "leaving"}  # short enough to finish: the load decides


def test_eligibility_rules() -> None:
    eng = person("eng", skills=("postgres",))
    boss = person("boss", role="manager", access="approver")
    director = person("dir", role="director", access="admin")
    auditor = person("aud", role="auditor")
    other = person("other", team="web")
    assert eligible(item("t"), eng) and not eligible(item("t"), boss)
    assert not eligible(item("t"), director) and not eligible(item("t"), auditor)
    assert not eligible(item("t"), other)  # another team
    assert eligible(item("t", skill="postgres"), eng)
    assert not eligible(item("t", skill="postgres"), other)
    assert eligible(item("t", team=None), other)
    # Approvals go to those who may approve, managers and directors included.
    approval = item("ap", kind="approval")
    assert eligible(approval, boss) and eligible(approval, director)
    assert not eligible(approval, eng) and not eligible(approval, auditor)
    assert not eligible(item("ap2", kind="approval", team="web"), boss)
    assert not eligible(item("t"), person("idle", capacity=0))


def test_ineligible_and_off_hours_rules_hold_on_random_batches() -> None:
    rng = random.Random(11)
    zones, teams, skills = (BERLIN, NEW_YORK, SINGAPORE), ("ops", "web", "db"), ("x", "y", "z")
    for case in range(150):
        people = [person(f"p{n}", rng.choice(zones), team=rng.choice(teams),
                         role=rng.choice(("engineer", "engineer", "lead", "manager")),
                         capacity=rng.randint(0, 3),
                         skills=tuple(s for s in skills if rng.random() < 0.4),
                         access=rng.choice(("viewer", "approver")))
                  for n in range(rng.randint(1, 7))]
        now = T10 + timedelta(hours=rng.randint(0, 23))
        items = [item(f"c{case}i{n}", at=now, team=rng.choice((*teams, None)),
                      skill=rng.choice((*skills, None, None)), urgent=rng.random() < 0.3,
                      kind=rng.choice(("ticket", "incident", "approval")),
                      due_in=rng.uniform(-30, 600), minutes=rng.uniform(5, 120))
                 for n in range(rng.randint(1, 9))]
        load = {p.id: rng.randint(0, 2) for p in people}
        pages = {p.id: rng.randint(0, 4) for p in people}
        by_id = {p.id: p for p in people}
        kinds = {i.id: i for i in items}
        out = assign_optimal(items, people, load=load, off_hours_pages=pages, now=now)
        assert sorted(a.item for a in out) == sorted(kinds)
        given = Counter(a.person for a in out if a.person is not None)
        for a in out:
            if a.person is None:
                continue
            who, what = by_id[a.person], kinds[a.item]
            assert eligible(what, who)
            assert a.off_hours == (not who.working(now))
            assert what.urgent or not a.off_hours
        for pid, n in given.items():
            assert n <= by_id[pid].capacity - load[pid]
        # Never worse than the greedy plan once that plan is made legal (no paging for
        # non-urgent work): the optimum of the same problem.
        legal = [a if not a.off_hours or kinds[a.item].urgent else
                 Assignment(a.item, None, False, "") for a in
                 assign_greedy(items, people, load=load, now=now)]
        cost = plan_cost(out, items, people, load=load, off_hours_pages=pages, now=now)
        assert cost <= plan_cost(legal, items, people, load=load, off_hours_pages=pages,
                                 now=now) + 1e-6


def test_deterministic_whatever_the_input_order() -> None:
    rng = random.Random(3)
    people = [person(f"p{n:02d}", (BERLIN, NEW_YORK, SINGAPORE)[n % 3], capacity=1 + n % 3,
                     skills=("x",) if n % 2 else ()) for n in range(12)]
    items = [item(f"i{n:02d}", skill="x" if n % 3 == 0 else None, urgent=n % 4 == 0,
                  due_in=30 + 20 * n, age=n) for n in range(20)]
    load, pages = {"p01": 1, "p04": 2}, {"p02": 1}
    first = assign_optimal(items, people, load=load, off_hours_pages=pages, now=T14)
    greedy = assign_greedy(items, people, load=load, now=T14)
    for _ in range(5):
        its, ps = items[:], people[:]
        rng.shuffle(its)
        rng.shuffle(ps)
        assert assign_optimal(its, ps, load=load, off_hours_pages=pages, now=T14) == first
        assert assign_greedy(its, people, load=load, now=T14) == greedy
    assert [a.item for a in first] == sorted(i.id for i in items)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="appears twice"):
        assign_optimal([item("a"), item("a")], [person("p")], load={}, off_hours_pages={},
                       now=T10)
    with pytest.raises(ValueError, match="time zone"):
        assign_optimal([item("a")], [person("p")], load={}, off_hours_pages={},
                       now=datetime(2026, 3, 2, 10))
    with pytest.raises(ValueError, match="kind"):
        item("a", kind="chore")
    with pytest.raises(ValueError, match="queue must exceed"):
        Weights(queue=10.0)
    assert assign_optimal([], [person("p")], load={}, off_hours_pages={}, now=T10) == []


@pytest.mark.parametrize("weights", [Weights(), Weights(queue_urgent=50.0)],
                         ids=["default", "queue-below-urgency-delay"])
def test_a_backlog_larger_than_the_free_slots_still_gets_the_optimum(weights: Weights) -> None:
    # Many items of few classes against two free slots: the solver only looks at each
    # class's most urgent items, which must not lose the optimum (checked by brute force),
    # also where urgent items cost less queued than paged.
    rng = random.Random(11)
    for _ in range(25):
        people = [person("a", BERLIN, capacity=1), person("b", SINGAPORE, capacity=1)]
        items = [item(f"i{k}", urgent=rng.random() < 0.5, due_in=rng.choice([5, 30, 90, 400]),
                      age=rng.uniform(1, 60)) for k in range(rng.randint(4, 7))]
        load = {"a": rng.randint(0, 1)}
        pages = {"b": rng.randint(0, 2)}
        out = assign_optimal(items, people, load=load, off_hours_pages=pages, now=T10,
                             weights=weights)
        best = math.inf
        for combo in itertools.product(["a", "b", None], repeat=len(items)):
            best = min(best, plan_cost(
                [Assignment(i.id, w, False, "") for i, w in zip(items, combo, strict=True)],
                items, people, load=load, off_hours_pages=pages, now=T10, weights=weights))
        got = plan_cost(out, items, people, load=load, off_hours_pages=pages, now=T10,
                        weights=weights)
        assert got == pytest.approx(best), (items, load, pages)
