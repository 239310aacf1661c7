"""The pipeline end to end on the starter organisation."""

from __future__ import annotations

from pathlib import Path

from baton.config import Config
from baton.engine.pipeline import Engine
from baton.model import Event, Objectives
from baton.store import open_store
from conftest import T0
from helpers import RecordingWorld, engine_for, ev


def run(config: Config, tmp_path: Path, events: list[Event], world: RecordingWorld | None = None,
        name: str = "e.db") -> tuple[Engine, RecordingWorld]:
    world = world or RecordingWorld()
    engine = engine_for(config, open_store(tmp_path / name), world)
    engine.ingest(events)
    engine.process_pending()
    return engine, world


def test_a_duplicate_event_key_is_acknowledged_and_ignored(starter: Config,
                                                           tmp_path: Path) -> None:
    engine, world = run(starter, tmp_path, [ev("a", "service.down", "db", T0)])
    assert engine.ingest([ev("a", "service.down", "db", T0, 5)]) == [False]
    assert engine.process_pending() == 0
    assert [r.action.kind for r in world.requests] == ["restart", "notify_team"]


def test_a_dependency_outage_becomes_one_incident_with_one_root_action(
        starter: Config, tmp_path: Path) -> None:
    events = [ev("down", "service.down", "db", T0)] + [
        ev(f"err-{svc}-{i}", "alert", svc, T0, 1 + i, metric="error_rate", value=0.4)
        for i in range(3) for svc in ("api", "worker", "reports")]
    engine, world = run(starter, tmp_path, events)
    # one root action; finops owns `reports` (a dependent) and is told once by the plan
    assert [(r.action.kind, r.action.resource) for r in world.requests] == [
        ("restart", "db"), ("notify_team", "finops")]
    outcomes = sorted(d["outcome"] for d in engine.store.decisions())
    # ... and the incident's response is assigned to a person at work
    assert outcomes == ["assigned 1", "correlated", "correlated", "correlated", "executed",
                        "plan updated", "plan updated", "planned"]
    assert len(engine.coordinator.open) == 1
    incident = next(iter(engine.coordinator.open.values()))
    assert incident.root == "db" and incident.members == {"api", "worker", "reports"}


def test_an_earlier_dependent_alert_is_absorbed_when_the_root_appears(
        starter: Config, tmp_path: Path) -> None:
    engine, _ = run(starter, tmp_path, [
        ev("w", "service.down", "worker", T0), ev("d", "service.down", "db", T0, 2)])
    (incident,) = engine.coordinator.open.values()
    assert incident.root == "db" and "worker" in incident.members


def test_recovery_closes_the_incident_and_counts_time_to_resolve(
        starter: Config, tmp_path: Path) -> None:
    engine, _ = run(starter, tmp_path, [ev("d", "service.down", "db", T0),
                                        ev("r", "service.recovered", "db", T0, 12)])
    assert engine.coordinator.open == {}
    assert (engine.stats.resolved, engine.stats.mttr_minutes) == (1, 12.0)


SCALE = [ev("cpu", "alert", "worker", T0, 0, metric="cpu_util", value=0.97),
         ev("spend", "cost.sample", "worker", T0, 1, cost_per_hour=1.0)]


def _cost_anomaly_events() -> list[Event]:
    history = [ev(f"c{i}", "cost.sample", "worker", T0, -600 + 60 * i, cost_per_hour=10.0 + i % 2)
               for i in range(8)]
    return [*history, ev("cpu", "alert", "worker", T0, 0, metric="cpu_util", value=0.97),
            ev("spike", "cost.sample", "worker", T0, 2, cost_per_hour=90.0)]


def test_conflicting_proposals_on_one_resource_are_arbitrated_with_the_reason_recorded(
        starter: Config, tmp_path: Path) -> None:
    engine, world = run(starter, tmp_path, _cost_anomaly_events())
    kinds = [r.action.kind for r in world.requests]
    assert kinds == ["scale_out"]
    loser = next(d for d in engine.store.decisions() if d["situation_kind"] == "cost_anomaly")
    assert loser["outcome"] == "escalated: lost arbitration"  # a person may override
    assert "lost arbitration" in loser["proposals"][0]["outcome"]
    assert [e.action["kind"] for e in engine.store.escalations(status="open")] == [
        "scale_in"]


def test_changing_the_objectives_changes_the_arbitration(starter: Config,
                                                         tmp_path: Path) -> None:
    # Weigh cost heavily and customer impact not at all: saving money now beats capacity.
    settings = starter.settings.model_copy(update={"objectives": Objectives(
        speed=0.0, cost=50.0, risk=0.0, customer_impact=0.0)})
    engine, world = run(starter.model_copy(update={"settings": settings}), tmp_path,
                        _cost_anomaly_events())
    assert [r.action.kind for r in world.requests] == ["scale_out", "scale_in"]
    winner = next(d for d in engine.store.decisions() if d["situation_kind"] == "cost_anomaly")
    assert "overrides scale_out" in winner["proposals"][0]["outcome"]


def test_a_failed_action_is_compensated(starter: Config, tmp_path: Path) -> None:
    world = RecordingWorld(fail_kinds=frozenset({"scale_out"}))
    engine, _ = run(starter, tmp_path, [SCALE[0]], world)
    assert [r.action.kind for r in world.requests] == ["scale_out", "scale_in"]
    (decision,) = engine.store.decisions()
    assert decision["outcome"].startswith("failed") and "compensated by scale_in" in \
        decision["outcome"]
    assert engine.stats.spend == 0


def test_an_approved_escalation_runs_its_action_and_a_rejected_one_never_does(
        starter: Config, tmp_path: Path) -> None:
    # api (tier 0) needs approval with a 15-minute SLA; by minute 200 it has expired.
    engine, world = run(starter, tmp_path, [ev("a", "service.down", "api", T0),
                                            ev("b", "service.down", "db", T0, 200)])
    (esc,) = engine.store.escalations()
    assert esc.status == "expired"
    engine.ingest([ev("late", "baton.approve", esc.id, T0, 201, escalation=esc.id,
                      by=esc.candidates[0], comment="go")])
    engine.process_pending()
    assert engine.store.decisions(limit=1)[0]["outcome"] == "refused"
    assert [r.action.resource for r in world.requests if r.action.kind == "restart"] == ["db"]

    engine, world = run(starter, tmp_path, [ev("a", "service.down", "api", T0)],
                        name="f.db")
    esc = engine.store.escalations(status="open")[0]
    engine.ingest([ev("ok", "baton.approve", esc.id, T0, 5, escalation=esc.id,
                      by=esc.candidates[0], comment="go")])
    engine.process_pending()
    assert [r.action.resource for r in world.requests] == ["api"]
    human = engine.store.decisions(limit=1)[0]
    assert human["decided_by"] == esc.candidates[0] and human["rationale"] == "go"

    engine, world = run(starter, tmp_path, [ev("a", "service.down", "api", T0)],
                        name="g.db")
    esc = engine.store.escalations(status="open")[0]
    engine.ingest([ev("no", "baton.reject", esc.id, T0, 5, escalation=esc.id, by="ana")])
    engine.process_pending()
    assert world.requests == []
    assert engine.store.escalation(esc.id).status == "rejected"  # type: ignore[union-attr]


def test_sla_timers_fire_in_virtual_time(starter: Config, tmp_path: Path) -> None:
    from baton.config import SlaTimerDetector

    timer = SlaTimerDetector(id="t", kind="sla_timer", start="ticket.opened",
                             stop="ticket.resolved", minutes=100, warn_at=0.5,
                             situation="ticket_sla_at_risk", domain="reliability")
    settings = starter.settings.model_copy(update={"detectors": [timer]})
    config = starter.model_copy(update={"settings": settings})
    engine, _ = run(config, tmp_path, [
        ev("o1", "ticket.opened", "T1", T0, 0, priority="P2"),
        ev("o2", "ticket.opened", "T2", T0, 0, priority="P2"),
        ev("r2", "ticket.resolved", "T2", T0, 10),
        ev("tick", "baton.tick", "baton", T0, 49),  # not yet: due at minute 50
    ])
    assert engine.stats.situations == 0
    engine.ingest([ev("tick2", "baton.tick", "baton", T0, 50)])
    engine.process_pending()
    assert engine.stats.situations == 1
    engine.ingest([ev("r1", "ticket.resolved", "T1", T0, 120)])
    engine.process_pending()
    assert engine.stats.sla_breaches == 1


def test_recovery_rebuilds_the_same_state_and_continues_the_chain(
        starter: Config, tmp_path: Path) -> None:
    events = [ev("a", "service.down", "db", T0),
              ev("b", "alert", "worker", T0, 1, metric="cpu_util", value=0.97),
              ev("c", "service.down", "api", T0, 2)]
    engine, _ = run(starter, tmp_path, events)
    again = engine_for(starter, open_store(tmp_path / "e.db"))
    again.recover()
    assert (again.ledger.seq, again.ledger.head) == engine.store.ledger_head()
    assert again.stats == engine.stats
    assert set(again.actor.open) == set(engine.actor.open)
    again.ingest([ev("d", "service.down", "reports", T0, 300)])
    again.process_pending()
    from baton.ledger.chain import verify

    assert verify(again.store.ledger_rows()).ok


def test_an_upward_anomaly_detector_ignores_drops(starter: Config, tmp_path: Path) -> None:
    from baton.config import AnomalyDetector

    def detector(direction: str) -> Config:
        det = AnomalyDetector.model_validate(
            {"id": "a", "kind": "anomaly", "event": "cost.sample", "field": "cost_per_hour",
             "min_samples": 4, "situation": "cost_anomaly", "domain": "cost",
             "direction": direction})
        return starter.model_copy(update={"settings": starter.settings.model_copy(
            update={"detectors": [det]})})

    samples = [ev(f"c{i}", "cost.sample", "worker", T0, 60 * i, cost_per_hour=10.0 + i % 2)
               for i in range(6)]
    drop = ev("drop", "cost.sample", "worker", T0, 400, cost_per_hour=0.5)
    up, _ = run(detector("up"), tmp_path, [*samples, drop], name="up.db")
    both, _ = run(detector("both"), tmp_path, [*samples, drop], name="both.db")
    assert up.stats.situations == 0
    assert both.stats.situations == 1
