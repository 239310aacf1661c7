"""The live autonomy ladder: control events, two-person widening, the circuit breaker."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from baton.config import Config, HttpTarget
from baton.connectors import build_connectors
from baton.engine.pipeline import Engine
from baton.model import Event
from baton.store import open_store
from conftest import T0
from helpers import RecordingWorld, engine_for, ev
from ladder_support import RESTART, autonomy_decisions, engine_on, feed, records, with_autonomy


def set_level(key: str, minutes: float, level: str, by: str, *, cls: str = RESTART,
              approve: bool = False, reason: str = "") -> Event:
    attrs: dict[str, Any] = {"class": cls, "level": level, "by": by, "reason": reason}
    if approve:
        attrs["approve"] = True
    return ev(key, "baton.autonomy", cls, T0, minutes, **attrs)


def restart_outcomes(engine: Engine) -> list[str]:
    """What each outage decision did when it was made (its ledger record)."""
    return [d["outcome"] for d in records(engine.store, "decision")
            if d["situation_kind"] == "service_down"]


def test_widening_by_one_person_is_refused_and_by_two_distinct_people_succeeds(
        starter: Config, tmp_path: Path) -> None:
    config = with_autonomy(starter, classes={RESTART: "approve"})
    engine = feed(engine_on(config, tmp_path / "l.db"), [
        set_level("p1", 0, "autonomous", "ana", reason="restarts have worked"),
        set_level("a1", 1, "autonomous", "ana", approve=True),  # her own proposal
        ev("d1", "service.down", "db", T0, 2)])
    assert engine.ladder.level_of(RESTART) == "approve"
    assert restart_outcomes(engine) == ["escalated"]
    outcomes = [d["outcome"] for d in autonomy_decisions(engine.store)]
    assert outcomes == ["autonomy widening proposed", "autonomy change refused"]
    assert "another person must approve" in autonomy_decisions(engine.store)[1]["rationale"]

    feed(engine, [set_level("a2", 3, "autonomous", "raj", approve=True),  # not an admin
                  set_level("p2", 4, "autonomous", "raj", reason="two weeks clean"),
                  set_level("a3", 5, "autonomous", "ana", approve=True),
                  ev("r1", "service.recovered", "db", T0, 6),
                  ev("d2", "service.down", "db", T0, 20)])
    records = autonomy_decisions(engine.store)
    assert "not an admin" in records[2]["rationale"]
    widened = records[-1]
    assert widened["outcome"] == "autonomy widened"
    assert (widened["context"]["proposed_by"], widened["context"]["approved_by"]) == (
        "raj", "ana")
    assert engine.ladder.level_of(RESTART) == "autonomous"
    assert restart_outcomes(engine) == ["escalated", "dispatched"]


def test_narrowing_takes_effect_on_the_next_event(starter: Config, tmp_path: Path) -> None:
    engine = feed(engine_on(starter, tmp_path / "l.db"), [
        ev("d1", "service.down", "db", T0),
        ev("r1", "service.recovered", "db", T0, 5),
        set_level("n1", 6, "approve", "sue", reason="a bad week"),
        ev("d2", "service.down", "db", T0, 7),
        ev("r2", "service.recovered", "db", T0, 8),
        set_level("n2", 9, "observe", "sue"),
        ev("d3", "service.down", "db", T0, 10)])
    assert restart_outcomes(engine) == ["dispatched", "escalated", "observed"]
    assert [d["outcome"] for d in autonomy_decisions(engine.store)] == [
        "autonomy narrowed", "autonomy narrowed"]


def test_a_narrowing_overrules_a_widening_in_waiting(starter: Config, tmp_path: Path) -> None:
    config = with_autonomy(starter, classes={RESTART: "shadow"})
    engine = feed(engine_on(config, tmp_path / "l.db"), [
        set_level("p", 0, "autonomous", "raj"), set_level("n", 1, "observe", "sue"),
        set_level("a", 2, "autonomous", "ana", approve=True)])
    assert engine.ladder.level_of(RESTART) == "observe" and not engine.ladder.pending
    assert autonomy_decisions(engine.store)[-1]["outcome"] == "autonomy change refused"


@pytest.mark.parametrize("attrs,problem", [
    ({"class": RESTART, "level": "fully", "by": "ana"}, "unknown level 'fully'"),
    ({"class": "reliability/restart", "level": "approve", "by": "ana"}, "must have the form"),
    ({"class": "nope/service_down/restart", "level": "approve", "by": "ana"},
     "'nope' is not a domain"),
    ({"class": RESTART, "level": "approve", "by": "mallory"}, "'mallory' is not a person"),
])
def test_a_bad_change_is_refused_by_name_and_changes_nothing(
        starter: Config, tmp_path: Path, attrs: dict[str, Any], problem: str) -> None:
    engine = feed(engine_on(starter, tmp_path / "l.db"), [
        ev("bad", "baton.autonomy", "x", T0, **attrs), ev("d", "service.down", "db", T0, 1)])
    (record,) = autonomy_decisions(engine.store)
    assert record["outcome"] == "autonomy change refused" and problem in record["rationale"]
    assert engine.ladder.levels == {} and restart_outcomes(engine) == ["dispatched"]


def outage_cycles(n: int) -> list[Event]:
    """n outages of db, each recovering ten minutes later."""
    out = []
    for i in range(n):
        out += [ev(f"d{i}", "service.down", "db", T0, 20 * i),
                ev(f"r{i}", "service.recovered", "db", T0, 20 * i + 10)]
    return out


def test_the_breaker_demotes_a_class_whose_connector_fails_and_its_next_decision_escalates(
        starter: Config, tmp_path: Path) -> None:
    world = RecordingWorld(fail_kinds=frozenset({"restart"}))
    engine = feed(engine_on(starter, tmp_path / "l.db", world),
                  [*outage_cycles(3), ev("next", "service.down", "db", T0, 70)])
    assert restart_outcomes(engine) == ["dispatched"] * 3 + ["escalated"]
    (demoted,) = autonomy_decisions(engine.store)
    assert demoted["outcome"] == "autonomy demoted" and demoted["decided_by"] == "baton"
    ctx = demoted["context"]
    assert (ctx["from"], ctx["to"], ctx["owner"], ctx["rate"]) == ("autonomous", "approve",
                                                                  "ana", 1.0)
    assert engine.ladder.level_of(RESTART) == "approve"
    assert engine.ladder.status()["notices"][0]["owner"] == "ana"
    # the owner is told through the connectors, and the result is a ledger record
    told = [r.action for r in world.requests if r.action.kind == "notify_person"]
    assert [(a.resource, a.params["class"], a.params["to"]) for a in told] == [
        ("ana", RESTART, "approve")]
    assert ctx["notified"] == "ana"
    notices = [r for r in records(engine.store, "result") if r["purpose"] == "notice"]
    assert [(n["resource"], n["status"], n["decision"]) for n in notices] == [
        ("ana", "done", demoted["id"])]
    # the restart's own escalation (not the failure's) names the autonomy cap
    (last,) = [d for d in engine.store.decisions(limit=500)
               if d["event"] == "next" and d["situation_kind"] == "service_down"]
    assert last["verdict"]["capped_by"] == "autonomy:approve"


def test_the_breaker_trips_when_the_http_target_is_gone(starter: Config,
                                                        tmp_path: Path) -> None:
    """The real http connector, to a port where nothing listens: every restart fails."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        connectors = starter.settings.connectors.model_copy(update={
            "routes": {"restart": "http"}, "http": HttpTarget(
                url=f"http://127.0.0.1:{sock.getsockname()[1]}/act", timeout_s=2.0,
                retries=0)})
        config = starter.model_copy(update={"settings": starter.settings.model_copy(
            update={"connectors": connectors})})
        store = open_store(tmp_path / "h.db")
        engine = feed(Engine(config, store=store, connectors=build_connectors(config)),
                      [*outage_cycles(3), ev("next", "service.down", "db", T0, 70)])
    finally:
        sock.close()
    failed = [o for o in records(engine.store, "outcome") if o["outcome"] == "failed"]
    assert len(failed) == 3 and all("result failed" in o["evidence"] for o in failed)
    assert [d["outcome"] for d in autonomy_decisions(engine.store)] == ["autonomy demoted"]
    assert restart_outcomes(engine)[-1] == "escalated"
    engine.close()


def test_an_escalation_nobody_answers_is_counted_as_unanswered(starter: Config,
                                                              tmp_path: Path) -> None:
    # api is tier 0: its restart needs approval; by minute 300 the whole chain has passed
    engine = feed(engine_on(starter, tmp_path / "l.db"), [
        ev("a", "service.down", "api", T0), ev("later", "baton.tick", "clock", T0, 300)])
    (cls,) = [c for c in engine.ladder.status()["classes"] if c["class"] == RESTART]
    assert (cls["modes"], cls["unanswered"], cls["answered"]) == ({"approve": 1}, 1, 0)
    assert engine.ladder.escalated == {}


def test_the_breaker_waits_for_enough_evidence(starter: Config, tmp_path: Path) -> None:
    world = RecordingWorld(fail_kinds=frozenset({"restart"}))
    engine = feed(engine_on(starter, tmp_path / "l.db", world), outage_cycles(2))
    assert autonomy_decisions(engine.store) == []
    assert engine.ladder.level_of(RESTART) == "autonomous"


def test_the_owner_is_not_messaged_when_notices_are_turned_off(starter: Config,
                                                               tmp_path: Path) -> None:
    world = RecordingWorld(fail_kinds=frozenset({"restart"}))
    config = with_autonomy(starter, ladder={"notify_action": None})
    engine = feed(engine_on(config, tmp_path / "l.db", world), outage_cycles(3))
    (demoted,) = autonomy_decisions(engine.store)
    assert demoted["context"]["notified"] is None
    assert "not notified" in demoted["rationale"]
    assert not [r for r in world.requests if r.action.kind == "notify_person"]


def test_a_demoted_class_stays_down_until_a_person_widens_it(starter: Config,
                                                             tmp_path: Path) -> None:
    world = RecordingWorld(fail_kinds=frozenset({"restart"}))
    config = with_autonomy(starter, ladder={"breaker_min": 2})
    engine = feed(engine_on(config, tmp_path / "l.db", world), outage_cycles(2))
    assert engine.ladder.level_of(RESTART) == "approve"
    feed(engine, [set_level("p", 50, "autonomous", "sue"),
                  set_level("a", 51, "autonomous", "ana", approve=True)])
    assert engine.ladder.level_of(RESTART) == "autonomous"
    history = engine.ladder.status()["classes"][0]["history"]
    assert [h["change"] for h in history] == ["autonomy demoted", "autonomy widened"]


def test_a_class_with_enough_agreement_is_recommended_for_promotion(starter: Config,
                                                                    tmp_path: Path) -> None:
    config = with_autonomy(starter, classes={RESTART: "approve"},
                           ladder={"promote_min": 5, "promote_lower": 0.5})
    engine = engine_on(config, tmp_path / "l.db")
    for i in range(6):
        # an hour apart: past each effect window, so no outage counts as a reopening
        feed(engine, [ev(f"d{i}", "service.down", "db", T0, 60 * i)])
        (esc,) = engine.store.escalations(status="open")
        feed(engine, [ev(f"ok{i}", "baton.approve", esc.id, T0, 60 * i + 1,
                         escalation=esc.id, by=esc.candidates[0]),
                      ev(f"r{i}", "service.recovered", "db", T0, 60 * i + 5)])
    (cls,) = [c for c in engine.ladder.status()["classes"] if c["class"] == RESTART]
    rec = cls["recommendation"]
    assert rec is not None and rec["to"] == "autonomous" and rec["evidence"] == 6
    assert rec["wilson_lower"] == pytest.approx(0.6097, abs=1e-3)  # 6 of 6 at 95 %
    assert cls["outcomes"]["resolved"] == 5  # the sixth window is still open


def test_an_outage_coming_back_within_the_window_counts_against_the_class(
        starter: Config, tmp_path: Path) -> None:
    engine = feed(engine_on(starter, tmp_path / "l.db"), outage_cycles(2))
    (cls,) = [c for c in engine.ladder.status()["classes"] if c["class"] == RESTART]
    assert cls["outcomes"]["worse"] == 1 and cls["recent_bad_rate"] == 1.0


def test_ladder_state_survives_recovery_from_a_snapshot(starter: Config,
                                                        tmp_path: Path) -> None:
    events = [set_level("n", 0, "approve", "sue"), set_level("p", 1, "autonomous", "raj"),
              ev("d", "service.down", "db", T0, 2)]
    live = feed(engine_on(starter, tmp_path / "l.db"), events)
    assert live.snapshot()
    again = engine_on(starter, tmp_path / "l.db")
    again.recover(resume=False)
    assert again.ladder.status() == live.ladder.status()
    assert (again.ledger.seq, again.ledger.head) == (live.ledger.seq, live.ledger.head)


def test_a_demotion_replays_to_the_same_head_on_every_backend(starter: Config,
                                                              store_url: str) -> None:
    world = RecordingWorld(fail_kinds=frozenset({"restart"}))
    live = feed(engine_for(starter, open_store(store_url), world),
                [*outage_cycles(3), ev("next", "service.down", "db", T0, 70)])
    assert live.ladder.level_of(RESTART) == "approve"
    replayed = engine_for(starter, open_store(store_url), world)
    replayed.recover(resume=False)
    assert (replayed.ledger.seq, replayed.ledger.head) == (live.ledger.seq, live.ledger.head)
    assert replayed.ladder.status() == live.ladder.status()
    live.store.close()
    replayed.store.close()
