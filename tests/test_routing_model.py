"""The routing model: folding logs into cases, no outcome leakage, calibration, determinism."""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import os
import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from baton.learn.cases import SERVICENOW_OPEN_ATTRS, Case, CaseColumns, cases_from_rows
from baton.learn.history import SERVICENOW_KEYS, AsOfEncoder, keys_for
from baton.learn.metrics import (
    best_at_coverage,
    brier,
    coverage_curve,
    expected_calibration_error,
    reliability,
)
from baton.learn.routing import (
    Decision,
    InsufficientHistory,
    RollingRouter,
    RoutingConfig,
    RoutingModel,
)

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
LOG = Path(__file__).resolve().parents[2] / "shared/data/incident_event_log.csv.gz"
OUTCOME_COLUMNS = {"resolved_by", "closed_code", "resolved_at", "closed_at", "caused_by",
                   "problem_id", "rfc", "vendor", "assigned_to", "assignment_group",
                   "reassignment_count", "sys_mod_count", "made_sla", "incident_state"}
ATTRS = ("caller_id", "category", "subcategory", "contact_type")
CONFIG = RoutingConfig(attributes=ATTRS, min_train=150, min_holdout=60, window=1000,
                       holdout=timedelta(days=5), lag=timedelta(days=2), max_iter=30)


def synthetic(n: int = 1200, seed: int = 7) -> list[Case]:
    """Cases every ~45 minutes; categories 0-2 route by subcategory, 3-5 are a coin toss."""
    rng = random.Random(seed)
    groups = [f"G{c}{s}" for c in range(3) for s in range(3)] + ["N1", "N2", "N3"]
    cases = []
    for i in range(n):
        cat, sub = rng.randrange(6), rng.randrange(3)
        final = f"G{cat}{sub}" if cat < 3 else rng.choice(["N1", "N2", "N3"])
        opened = T0 + timedelta(minutes=45 * i + rng.randrange(30))
        attrs = {"caller_id": f"C{rng.randrange(40)}", "category": f"cat{cat}",
                 "subcategory": f"sub{cat}{sub}", "contact_type": "Phone"}
        cases.append(Case(
            id=f"INC{i:05d}", opened_at=opened, open_attrs=attrs,
            first_group=final if rng.random() < 0.65 else rng.choice(groups),
            final_group=final, closed_at=opened + timedelta(hours=rng.uniform(20, 200))))
    return cases


def leaked_after(cases: list[Case], moment: datetime) -> list[Case]:
    """The same cases, but every outcome known at or after `moment` is replaced."""
    return [replace(c, final_group="LEAK") if c.closed_at >= moment else c for c in cases]


def test_fit_uses_only_outcomes_known_before_now() -> None:
    cases = synthetic()
    now = cases[700].opened_at
    probes = [c.open_attrs for c in cases[700:800]]
    full = RoutingModel(CONFIG).fit(cases, now=now)
    past = RoutingModel(CONFIG).fit([c for c in cases if c.closed_at < now], now=now)
    leak = RoutingModel(CONFIG).fit(leaked_after(cases, now), now=now)
    answers = [[m.predict_proba(p) for p in probes] for m in (full, past, leak)]
    assert answers[0] == answers[1] == answers[2]
    assert all("LEAK" not in a for a in answers[2])
    assert full.trained_until == now and full.known_until == now
    assert full.report is not None and past.report is not None
    assert replace(full.report, seconds=0) == replace(past.report, seconds=0)


def test_fit_needs_enough_history() -> None:
    cases = synthetic(200)
    with pytest.raises(InsufficientHistory):
        RoutingModel(CONFIG).fit(cases, now=cases[-1].opened_at)


def replay(cases: list[Case]) -> tuple[RollingRouter, list[Decision]]:
    router = RollingRouter(CONFIG, every=timedelta(days=3), min_new_outcomes=50)
    return router, router.replay(cases)


def test_rolling_decisions_use_only_the_past() -> None:
    cases = synthetic()
    router, decisions = replay(cases)
    assert len(router.fits) >= 5
    assert [d.case_id for d in decisions] == [c.id for c in cases]
    decided = [d for d in decisions if d.group is not None]
    assert len(decided) > 0.4 * len(cases)
    for d in decided:
        assert d.trained_until is not None and d.trained_until <= d.opened_at
        assert d.known_outcomes == sum(c.closed_at < d.opened_at for c in cases)
    # Rewriting every outcome known only after a case opened must not change its decision.
    pivot = cases[900].opened_at
    _, again = replay(leaked_after(cases, pivot))
    before = [d for d in decisions if d.opened_at <= pivot]
    assert before == again[: len(before)]
    assert any(d.group is not None for d in before)


def test_confidence_is_calibrated_on_synthetic_data() -> None:
    cases = synthetic(1600, seed=11)
    _, decisions = replay(cases)
    by_id = {c.id: c for c in cases}
    decided = [d for d in decisions if d.group is not None]
    right = [d.group == by_id[d.case_id].final_group for d in decided]
    conf = [d.confidence for d in decided]
    sure = [d.confidence for d in decided if by_id[d.case_id].open_attrs["category"] < "cat3"]
    toss = [d.confidence for d in decided if by_id[d.case_id].open_attrs["category"] >= "cat3"]
    assert sum(sure) / len(sure) > 0.8
    assert sum(toss) / len(toss) < 0.55
    table = reliability(conf, right)
    assert expected_calibration_error(table) < 0.08
    assert brier(conf, right) < 0.2
    assert all(0.0 <= c <= 1.0 for c in conf)


def test_same_input_same_predictions() -> None:
    cases = synthetic()
    assert replay(cases)[1] == replay(list(reversed(cases)))[1]
    now = cases[800].opened_at
    one = RoutingModel(CONFIG).fit(cases, now=now)
    two = RoutingModel(CONFIG).fit(cases, now=now)
    for case in cases[800:850]:
        assert one.top_k(case.open_attrs, 3) == two.top_k(case.open_attrs, 3)
        group, confidence = one.predict(case.open_attrs)
        assert (group, confidence) == one.top_k(case.open_attrs, 1)[0]
        assert sum(one.predict_proba(case.open_attrs).values()) == pytest.approx(1.0)


def test_observe_adds_new_outcomes_without_retraining() -> None:
    cases = synthetic()
    now = cases[700].opened_at
    model = RoutingModel(CONFIG).fit(cases, now=now)
    later = now + timedelta(days=3)
    model.observe(cases, now=later)
    assert model.trained_until == now and model.known_until == later
    fresh = AsOfEncoder(CONFIG.new_history())
    fresh.advance(cases, until=later)
    assert fresh.history.outcomes == sum(c.closed_at < later for c in cases)
    with pytest.raises(ValueError):
        model.observe(cases, now=now)


def test_keys_follow_the_schema() -> None:
    assert keys_for(SERVICENOW_OPEN_ATTRS) == SERVICENOW_KEYS
    assert keys_for(("service", "priority", "category")) == (
        ("category",), ("service",), ("priority",))
    renamed = [replace(c, open_attrs={"who": c.open_attrs["caller_id"],
                                      "kind": c.open_attrs["category"],
                                      "what": c.open_attrs["subcategory"]})
               for c in synthetic()]
    model = RoutingModel(replace(CONFIG, attributes=None)).fit(renamed, now=renamed[800].opened_at)
    later = [c for c in renamed[800:] if c.open_attrs["kind"] < "cat3"]
    right = sum(model.predict(c.open_attrs)[0] == c.final_group for c in later)
    assert right / len(later) > 0.9


SERVICENOW_LOG = """\
number,incident_state,reassignment_count,caller_id,opened_at,sys_updated_at,category,\
subcategory,u_symptom,assignment_group,assigned_to,resolved_at,closed_at,sys_created_by
INC1,New,0,Caller 1,29/2/2016 01:16,29/2/2016 01:16,Cat 5,Sub 9,?,Group 1,?,?,?,?
INC2,New,0,Caller 2,29/2/2016 02:00,29/2/2016 02:00,Cat 7,Sub 1,Sym 3,?,?,?,?,Created by 4
INC1,Active,1,Caller 1,29/2/2016 01:16,29/2/2016 03:30,Cat 6,Sub 9,Sym 2,Group 2,Ann,?,?,?
INC3,New,0,Caller 3,1/3/2016 09:00,1/3/2016 09:00,Cat 1,Sub 1,?,?,?,?,?,?
INC2,Active,0,Caller 2,29/2/2016 02:00,29/2/2016 04:10,Cat 7,Sub 1,Sym 3,Group 3,?,?,?,x
INC1,Resolved,1,Caller 1,29/2/2016 01:16,1/3/2016 10:00,Cat 6,Sub 9,Sym 2,Group 2,Ann,\
1/3/2016 10:00,?,?
INC1,Closed,1,Caller 1,29/2/2016 01:16,6/3/2016 10:00,Cat 6,Sub 9,Sym 2,?,Ann,\
1/3/2016 10:00,6/3/2016 10:00,?
INC2,Closed,0,Caller 2,29/2/2016 02:00,5/3/2016 11:00,Cat 7,Sub 1,Sym 3,Group 3,?,\
29/2/2016 05:00,5/3/2016 11:00,Created by 4
INC4,New,0,Caller 4,2/3/2016 09:00,2/3/2016 09:00,Cat 1,Sub 1,?,Group 9,?,?,?,?
"""


def test_fold_servicenow_log() -> None:
    skipped: Counter[str] = Counter()
    cases = cases_from_rows(csv.DictReader(io.StringIO(SERVICENOW_LOG)), skipped=skipped)
    assert skipped == Counter({"no group": 1, "not closed": 1})  # INC3, INC4
    one, two = cases
    assert one.id == "INC1" and two.id == "INC2"
    assert one.opened_at == datetime(2016, 2, 29, 1, 16, tzinfo=UTC)
    assert one.open_attrs == {"caller_id": "Caller 1", "category": "Cat 5",
                              "subcategory": "Sub 9"}  # first row only; "?" left out
    assert (one.first_group, one.final_group) == ("Group 1", "Group 2")
    assert one.reached_final_at == datetime(2016, 2, 29, 3, 30, tzinfo=UTC)
    assert one.reassignments == 1 and one.rows == 4
    assert one.resolved_at == datetime(2016, 3, 1, 10, 0, tzinfo=UTC)
    assert one.closed_at == datetime(2016, 3, 6, 10, 0, tzinfo=UTC)
    assert (two.first_group, two.final_group) == ("Group 3", "Group 3")
    assert two.reached_final_at == datetime(2016, 2, 29, 4, 10, tzinfo=UTC)  # no group at open
    assert two.open_attrs["sys_created_by"] == "Created by 4"
    assert two.reassignments == 0
    for case in cases:
        assert not set(case.open_attrs) & OUTCOME_COLUMNS
    assert not set(SERVICENOW_OPEN_ATTRS) & OUTCOME_COLUMNS


def test_fold_other_column_names_and_time_format() -> None:
    rows = [
        {"ticket": "T-1", "created": "2026-03-02T09:00", "ts": "2026-03-02T09:00",
         "team": "Desk", "service": "mail", "priority": "N/A", "done": ""},
        {"ticket": "T-1", "created": "2026-03-02T09:00", "ts": "2026-03-02T11:00",
         "team": "Network", "service": "vpn", "done": ""},
        {"ticket": "T-1", "created": "2026-03-02T09:00", "ts": "2026-03-02T12:00",
         "team": "Desk", "service": "vpn", "done": "2026-03-03T08:00"},
    ]
    columns = CaseColumns(case_id="ticket", opened_at="created", updated_at="ts",
                          group="team", resolved_at=None, closed_at="done",
                          reassignment_count=None, open_attrs=("service", "priority"))
    berlin = ZoneInfo("Europe/Berlin")
    (case,) = cases_from_rows(rows, columns, time_format="%Y-%m-%dT%H:%M", tz=berlin,
                              missing={"", "N/A"})
    assert case.opened_at == datetime(2026, 3, 2, 9, 0, tzinfo=berlin)
    assert case.open_attrs == {"service": "mail"}
    assert (case.first_group, case.final_group) == ("Desk", "Desk")
    assert case.reached_final_at == case.opened_at  # A -> B -> A: it was there at once
    assert case.reassignments == 2  # counted from the rows: no count column mapped
    assert case.resolved_at is None
    assert case.closed_at == datetime(2026, 3, 3, 8, 0, tzinfo=berlin)


def test_metrics() -> None:
    conf = [0.95, 0.9, 0.6, 0.3]
    right = [True, True, False, False]
    human = [True, False, True, False]
    curve = coverage_curve(conf, right, human, [0.5, 0.9, 0.99])
    assert [(p.coverage, p.accuracy, p.human_accuracy) for p in curve] == [
        (0.75, 2 / 3, 2 / 3), (0.5, 1.0, 0.5), (0.0, 0.0, 0.0)]
    best = best_at_coverage(curve, 0.5)
    assert best is not None and best.threshold == 0.9
    assert brier(conf, right) == pytest.approx((0.05**2 + 0.1**2 + 0.6**2 + 0.3**2) / 4)
    table = reliability(conf, right, bins=2)
    assert [(b.cases, b.accuracy) for b in table] == [(1, 0.0), (3, 2 / 3)]


def _real_log() -> Path:
    if not LOG.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the shared incident log is missing at {LOG}")
        pytest.skip(f"no shared incident log at {LOG}")
    return LOG


def test_real_log_smoke() -> None:
    """Fold the first 2,000 rows of the real log, and replay ~2,000 rows spread over time."""
    path = _real_log()
    with gzip.open(path, "rt", newline="", encoding="utf-8") as handle:
        head = list(itertools.islice(csv.DictReader(handle), 2000))
    cases = cases_from_rows(head)
    assert 250 < len(cases) < 400
    assert all(set(c.open_attrs) <= set(SERVICENOW_OPEN_ATTRS) for c in cases)
    assert all(c.opened_at.tzinfo is not None and c.closed_at >= c.opened_at for c in cases)
    assert 0.4 < sum(c.first_group == c.final_group for c in cases) / len(cases) < 0.9
    # Every 70th incident over the whole log: ~2,000 rows spanning the year.
    with gzip.open(path, "rt", newline="", encoding="utf-8") as handle:
        sample = [r for r in csv.DictReader(handle) if int(r["number"][3:]) % 70 == 0]
    assert 1000 < len(sample) < 4000
    spread = cases_from_rows(sample)
    config = RoutingConfig(min_train=40, min_holdout=15, window=2000)
    router = RollingRouter(config, min_new_outcomes=20)
    decisions = router.replay(spread)
    decided = [d for d in decisions if d.group is not None]
    assert router.fits and len(decided) > len(spread) / 3
    finals = {c.id: c.final_group for c in spread}
    assert all(d.trained_until is not None and d.trained_until <= d.opened_at
               for d in decided)
    assert sum(d.group == finals[d.case_id] for d in decided) / len(decided) > 0.4
