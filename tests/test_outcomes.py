"""Outcomes: each executed decision is judged from the events after it."""

from __future__ import annotations

from pathlib import Path

import pytest

from baton.config import Config
from baton.model import Event, Objectives
from conftest import T0
from helpers import RecordingWorld, ev
from ladder_support import RESTART, engine_on, feed, records


def outcomes_of(config: Config, tmp_path: Path, events: list[Event],
                world: RecordingWorld | None = None) -> list[dict[str, object]]:
    engine = feed(engine_on(config, tmp_path / "o.db", world), events)
    return records(engine.store, "outcome")


def tick(minutes: float) -> Event:
    return ev(f"tick-{minutes}", "baton.tick", "clock", T0, minutes)


def test_a_situation_that_clears_within_the_window_is_resolved_with_its_time_to_effect(
        starter: Config, tmp_path: Path) -> None:
    (o,) = outcomes_of(starter, tmp_path, [ev("d", "service.down", "db", T0),
                                           ev("r", "service.recovered", "db", T0, 5),
                                           tick(45)])
    assert (o["outcome"], o["class"], o["time_to_effect_s"]) == ("resolved", RESTART, 300.0)
    assert str(o["evidence"]).startswith("r: service.recovered")


def test_a_window_that_ends_with_no_clearing_event_is_no_effect(starter: Config,
                                                                tmp_path: Path) -> None:
    (o,) = outcomes_of(starter, tmp_path, [ev("d", "service.down", "db", T0), tick(45)])
    assert o["outcome"] == "no_effect"


def test_an_open_window_has_no_outcome_yet(starter: Config, tmp_path: Path) -> None:
    assert outcomes_of(starter, tmp_path, [ev("d", "service.down", "db", T0),
                                           ev("r", "service.recovered", "db", T0, 5),
                                           tick(20)]) == []


def test_the_situation_coming_back_after_it_cleared_is_worse(starter: Config,
                                                             tmp_path: Path) -> None:
    out = outcomes_of(starter, tmp_path, [ev("d", "service.down", "db", T0),
                                          ev("r", "service.recovered", "db", T0, 5),
                                          ev("d2", "service.down", "db", T0, 10)])
    assert out[0]["outcome"] == "worse" and "came back" in str(out[0]["evidence"])


def test_a_person_reverting_the_action_is_reverted(starter: Config, tmp_path: Path) -> None:
    engine = feed(engine_on(starter, tmp_path / "o.db"), [ev("d", "service.down", "db", T0)])
    (decision,) = [d for d in engine.store.decisions() if d["situation_kind"] == "service_down"]
    feed(engine, [ev("undo", "action.reverted", "db", T0, 3, by="raj",
                     decision=decision["id"]), tick(45)])
    (o,) = records(engine.store, "outcome")
    assert (o["outcome"], o["decision"]) == ("reverted", decision["id"])
    assert "reverted by raj" in str(o["evidence"])


def test_another_decision_acting_on_the_same_entity_supersedes_it(starter: Config,
                                                                  tmp_path: Path) -> None:
    # cost weighs most: the cost agent's scale_in overrides the scale_out on the worker
    settings = starter.settings.model_copy(update={"objectives": Objectives(
        speed=0.0, cost=50.0, risk=0.0, customer_impact=0.0)})
    history = [ev(f"c{i}", "cost.sample", "worker", T0, -600 + 60 * i,
                  cost_per_hour=10.0 + i % 2) for i in range(8)]
    out = outcomes_of(starter.model_copy(update={"settings": settings}), tmp_path, [
        *history, ev("cpu", "alert", "worker", T0, 0, metric="cpu_util", value=0.97),
        ev("spike", "cost.sample", "worker", T0, 2, cost_per_hour=90.0)])
    (o,) = out
    assert o["outcome"] == "superseded" and o["class"] == "reliability/saturation/scale_out"


def test_an_action_that_fails_at_its_target_is_failed(starter: Config, tmp_path: Path) -> None:
    (o,) = outcomes_of(starter, tmp_path, [ev("d", "service.down", "db", T0), tick(45)],
                       RecordingWorld(fail_kinds=frozenset({"restart"})))
    assert o["outcome"] == "failed" and "restart failed on purpose" in str(o["evidence"])


def test_an_approved_action_records_whether_the_approver_changed_it(starter: Config,
                                                                    tmp_path: Path) -> None:
    engine = feed(engine_on(starter, tmp_path / "o.db"), [ev("a", "service.down", "api", T0)])
    (esc,) = engine.store.escalations(status="open")
    feed(engine, [ev("ok", "baton.approve", esc.id, T0, 2, escalation=esc.id,
                     by=esc.candidates[0], params={"graceful": True}),
                  ev("r", "service.recovered", "api", T0, 6), tick(60)])
    (o,) = records(engine.store, "outcome")
    assert (o["outcome"], o["approved_by"], o["changed"]) == ("resolved",
                                                              esc.candidates[0], True)
    track = engine.ladder.status()["classes"][0]
    assert (track["answered"], track["changed"], track["approval_person_minutes"]) == (1, 1, 5)


@pytest.mark.parametrize("granularity,expected", [
    (["domain"], "reliability"), (["domain", "action"], "reliability/restart")])
def test_the_class_granularity_is_configurable(starter: Config, tmp_path: Path,
                                               granularity: list[str], expected: str) -> None:
    from ladder_support import with_autonomy

    config = with_autonomy(starter, granularity=granularity)
    (o,) = outcomes_of(config, tmp_path, [ev("d", "service.down", "db", T0), tick(45)])
    assert o["class"] == expected


def test_a_reading_back_within_its_bound_clears_the_situation(starter: Config,
                                                              tmp_path: Path) -> None:
    (o,) = outcomes_of(starter, tmp_path, [
        ev("hot", "alert", "worker", T0, metric="cpu_util", value=0.97),
        ev("warm", "alert", "worker", T0, 8, metric="cpu_util", value=0.95),  # still high
        ev("other", "alert", "worker", T0, 9, metric="error_rate", value=0.0),  # not cpu
        ev("cool", "alert", "worker", T0, 10, metric="cpu_util", value=0.4), tick(60)])
    assert (o["outcome"], o["time_to_effect_s"]) == ("resolved", 600.0)
    assert "cool: alert no longer raises saturation" in str(o["evidence"])


def test_a_reading_that_stays_out_of_bounds_has_no_effect(starter: Config,
                                                          tmp_path: Path) -> None:
    (o,) = outcomes_of(starter, tmp_path, [
        ev("hot", "alert", "worker", T0, metric="cpu_util", value=0.97),
        ev("warm", "alert", "worker", T0, 8, metric="cpu_util", value=0.95), tick(60)])
    assert o["outcome"] == "no_effect"


def test_a_result_lost_to_a_crash_fails_the_decision_without_counting_against_its_class(
        starter: Config) -> None:
    from datetime import timedelta

    from baton.engine.outcomes import Watch, Watches

    watches = Watches()
    for did in ("D-1", "D-2"):
        watches.start(Watch(did, RESTART, "db", "service_down", 1, T0,
                            T0 + timedelta(minutes=30)))
    rules = starter.settings.autonomy.ladder
    lost = watches.result("D-1", False, "unknown", "interrupted", T0, rules)
    broke = watches.result("D-2", False, "failed", "503", T0, rules)
    assert lost is not None and broke is not None
    assert (lost.outcome, lost.judged, broke.outcome, broke.judged) == ("failed", False,
                                                                       "failed", True)
    assert watches.open == {} and watches.by_entity == {}
