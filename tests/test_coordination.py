"""Coordination across domains: joint plans, ordering and compensation, conflict
arbitration by objectives, objectives changed at run time, the shared picture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from baton.config import Candidate, Config, Coordination, ThresholdDetector
from baton.engine.pipeline import Engine
from baton.engine.plan import fold_plan
from baton.model import Event, Objectives
from baton.org.graph import ServiceGraph
from baton.org.model import Organisation
from baton.store import open_store
from conftest import T0
from helpers import RecordingWorld, engine_for, ev, with_budget

TEAMS = ("alpha", "beta", "gamma", "delta")


def hub_org(starter: Config, dependents: int = 40) -> Config:
    """The starter organisation plus `dependents` services of four teams that need db."""
    data = starter.org.model_dump()
    data["teams"] += [{"id": t, "domain": "reliability", "lead": "ana"} for t in TEAMS]
    data["services"] += [{"id": f"dep-{i:02d}", "tier": 2, "team": TEAMS[i % 4],
                          "dependencies": ["db"]} for i in range(dependents)]
    return starter.model_copy(update={"org": Organisation.model_validate(data)})


def with_impact_playbook(config: Config, candidates: list[Candidate]) -> Config:
    """The reliability agent also answers `dependency_impact` with these steps."""
    agents = []
    for a in config.playbooks.agents:
        if a.id == "reliability-agent":
            a = a.model_copy(update={"playbooks": {**a.playbooks,
                                                   "dependency_impact": candidates}})
        agents.append(a)
    return config.model_copy(update={"playbooks": config.playbooks.model_copy(
        update={"agents": agents}), "policies": [*config.policies, ("plan.cedar", PLAN_POLICY)]})


PLAN_POLICY = """
@id("plan-steps") @verdict("autonomous")
permit (principal, action in [Action::"repoint", Action::"drain", Action::"repoint_back",
                              Action::"undrain"], resource);
"""

#: repoint dependents once the root is fixed, then drain the old pool: an ordered chain
CHAIN = [
    Candidate(action="repoint", after=["root"], compensation="repoint_back", minutes=2,
              effect="dependents use the fixed {entity}", rationale="root fixed"),
    Candidate(action="drain", after=["repoint"], compensation="undrain", minutes=2,
              effect="old pool drained", rationale="nobody uses it now"),
]


def run(config: Config, tmp_path: Path, events: list[Event],
        world: RecordingWorld | None = None, name: str = "c.db") -> tuple[Engine, RecordingWorld]:
    world = world or RecordingWorld()
    engine = engine_for(config, open_store(tmp_path / name), world)
    engine.ingest(events)
    engine.process_pending()
    return engine, world


def outage(dependents: int = 40) -> list[Event]:
    return [ev("down", "service.down", "db", T0)] + [
        ev(f"err-{i:02d}", "alert", f"dep-{i:02d}", T0, 1 + i / 10, metric="error_rate",
           value=0.3) for i in range(dependents)]


def plan_of(engine: Engine) -> dict[str, Any]:
    """The one joint plan as it stands now, put together from its records."""
    (plan,) = [d for d in engine.store.decisions(limit=1000) if d["outcome"] == "planned"]
    updates = [d for d in engine.store.decisions(limit=1000)
               if d["outcome"] == "plan updated" and d["chosen"] == plan["id"]]
    for update in updates:  # later records hold only the steps that changed
        assert update["plan"]["whole"] is False and "affected" not in update["plan"]
    return dict(plan, plan=fold_plan([plan["plan"], *[u["plan"] for u in updates[::-1]]]))


def steps(record: dict[str, Any]) -> dict[str, str]:
    return {s["action"] + ":" + s["resource"]: s["status"] for s in record["plan"]["steps"]}


# -- fan-out -------------------------------------------------------------------------------

def test_an_outage_with_40_dependents_is_one_incident_one_root_action_and_one_plan(
        starter: Config, tmp_path: Path) -> None:
    engine, world = run(hub_org(starter), tmp_path, outage())
    # one root-cause action, and each team owning dependents told once (finops owns
    # `reports`, alpha..delta own ten dep-* each): not 40 reactions
    kinds = [(r.action.kind, r.action.resource) for r in world.requests]
    assert kinds == [("restart", "db")] + [("notify_team", t) for t in
                                           sorted(["finops", *TEAMS])]
    assert len(engine.coordinator.open) == 1
    (incident,) = engine.coordinator.open.values()
    assert incident.root == "db" and len(incident.members) == 40
    decisions = engine.store.decisions(limit=1000)
    assert sorted({d["outcome"] for d in decisions}) == [
        "assigned 1", "correlated", "executed", "plan updated", "planned"]
    assert sum(d["outcome"] == "correlated" for d in decisions) == 40
    plan = plan_of(engine)
    assert plan["plan"]["events"] == ["down"]  # merged when it was made
    assert plan["plan"]["affected"]["dependents"] == 43  # 40 dep-*, api, worker, reports
    # every step of the plan passed governance, with the policy that allowed it
    for s in plan["plan"]["steps"]:
        assert s["verdict"] == "autonomous" and s["policies"], s
    # the correlated records point at the plan
    plan_id = plan["id"]
    assert all(d["chosen"] == plan_id for d in decisions if d["outcome"] == "correlated")
    # and the shared picture shows the incident
    assert engine.picture.service("dep-07").incident == incident.id
    assert engine.picture.service("db").status == "down"
    # finops's `reports` is two hops away: within the default radius
    assert plan["plan"]["affected"]["notices"] == {
        "sent": sorted(["finops", *TEAMS]), "digested": {}, "beyond_radius": 0}
    # five teams told and one responder assigned; no agent handles the impact here
    assert engine.stats.messages == 6


def test_a_tier0_hit_brings_support_and_customer_communication_into_the_plan(
        tmp_path: Path) -> None:
    from baton.config import load_config
    from baton.scenarios import scenario_path

    config = load_config(scenario_path("itops"))
    graph = ServiceGraph(config.org.services)
    hub = max(config.org.services, key=lambda s: (len(graph.dependents(s.id)), s.id))
    engine, _ = run(config, tmp_path, [ev("down", "service.down", hub.id, T0)])
    plan = plan_of(engine)
    actions = [s["action"] for s in plan["plan"]["steps"]]
    assert actions[0] == "restart" and plan["plan"]["steps"][0]["step"].endswith("/root")
    assert plan["plan"]["affected"]["tier0"] is True
    assert {"brief_support", "post_status", "verify_dependents"} <= set(actions)
    verify = next(s for s in plan["plan"]["steps"] if s["action"] == "verify_dependents")
    assert verify["after"] == [plan["plan"]["steps"][0]["step"]]  # waits for the root
    teams = plan["plan"]["affected"]["teams"]
    assert sum(a == "notify_team" for a in actions) == len(teams) > 1


# -- assignment of work to people ------------------------------------------------------------

def _assigned(engine: Engine) -> list[dict[str, Any]]:
    return [a for d in engine.store.decisions(limit=1000)
            if d["situation_kind"] == "assignment" for a in d["context"]["assignments"]]


def test_incident_response_follows_the_sun(starter: Config, tmp_path: Path) -> None:
    # platform: ana (Berlin), raj (Singapore), sue (New York). At 10:00 UTC on a Monday
    # only ana is at work; at 03:00 UTC on Tuesday only raj; at 15:00 UTC ana and sue.
    for hours, person in ((0, "ana"), (17, "raj")):
        engine, _ = run(starter, tmp_path, [ev("d", "service.down", "worker", T0, 60 * hours)],
                        name=f"s{hours}.db")
        (a,) = _assigned(engine)
        assert a["item"].startswith("incident:") and a["person"] == person, a
        assert a["off_hours"] is False
    assert engine.stats.off_hours_pages == {}


def test_tickets_wait_for_working_hours_unless_urgent(starter: Config, tmp_path: Path) -> None:
    # 22:00 UTC Monday: nobody on finops (Berlin and New York... ola and ben in Berlin, vic
    # is an auditor) is at work. A P3 ticket waits; a P1 ticket pages someone.
    late = 12 * 60
    engine, _ = run(starter, tmp_path, [
        ev("t3", "ticket.opened", "TCK-3", T0, late, priority="P3", team="finops"),
        ev("t1", "ticket.opened", "TCK-1", T0, late + 1, priority="P1", team="finops"),
        ev("tick", "baton.tick", "-", T0, late + 3)])
    (a,) = _assigned(engine)
    assert a["item"] == "TCK-1" and a["off_hours"] is True and a["person"] in ("ben", "ola")
    assert [w.id for w in engine.picture.waiting()] == ["TCK-3"]
    # next morning in Berlin the P3 ticket goes to whoever is at work with room
    engine.ingest([ev("morning", "baton.tick", "-", T0, 24 * 60)])
    engine.process_pending()
    assert engine.picture.waiting() == []
    assert [x["item"] for x in _assigned(engine)] == ["TCK-3", "TCK-1"]


# -- ordering and failure --------------------------------------------------------------------

def test_plan_steps_run_in_dependency_order_after_the_root(starter: Config,
                                                           tmp_path: Path) -> None:
    config = with_impact_playbook(hub_org(starter, 4), CHAIN)
    _, world = run(config, tmp_path, outage(4))
    kinds = [r.action.kind for r in world.requests if r.action.kind != "notify_team"]
    assert kinds == ["restart", "repoint", "drain"]


def test_a_failed_root_action_cancels_the_steps_that_wait_for_it(starter: Config,
                                                                 tmp_path: Path) -> None:
    config = with_impact_playbook(hub_org(starter, 4), CHAIN)
    engine, world = run(config, tmp_path, outage(4),
                        RecordingWorld(fail_kinds=frozenset({"restart"})))
    assert "repoint" not in [r.action.kind for r in world.requests]
    status = steps(plan_of(engine))
    assert status["restart:db"] == "failed"
    assert status["repoint:db"] == "cancelled" and status["drain:db"] == "cancelled"
    assert status["notify_team:alpha"] == "executed"  # told anyway: it waits for nothing


def test_a_failed_upstream_action_compensates_its_dependents(starter: Config,
                                                             tmp_path: Path) -> None:
    config = with_impact_playbook(hub_org(starter, 4), CHAIN)
    engine, world = run(config, tmp_path, outage(4))
    restart = next(r for r in world.requests if r.action.kind == "restart")
    # the orchestrator accepted the restart, then reports that it did not complete
    engine.ingest([ev("result", "action.result", restart.idempotency_key, T0, 5, ok=False,
                      detail="pod never became ready")])
    engine.process_pending()
    tail = [(r.action.kind, r.action.resource) for r in world.requests][-2:]
    assert tail == [("undrain", "db"), ("repoint_back", "db")]  # newest first
    update = engine.store.decisions(limit=1)[0]
    assert update["outcome"] == "plan updated"
    assert set(steps(update)) < set(steps(plan_of(engine)))  # it shows what changed only
    status = steps(plan_of(engine))
    assert status["restart:db"] == "failed"
    assert status["repoint:db"] == "compensated" and status["drain:db"] == "compensated"
    assert any("pod never became ready" in d["rationale"]
               for d in engine.store.decisions(limit=5) if d["outcome"] == "plan updated")


def _tier0_chain(starter: Config) -> Config:
    data = hub_org(starter, 4).org.model_dump()
    for s in data["services"]:
        if s["id"] == "db":
            s["tier"] = 0  # a tier-0 restart needs the on-call's approval
    return with_impact_playbook(starter.model_copy(update={
        "org": Organisation.model_validate(data)}), CHAIN)


def test_a_step_waiting_on_an_escalated_root_runs_once_the_root_is_approved(
        starter: Config, tmp_path: Path) -> None:
    config = _tier0_chain(starter)
    engine, world = run(config, tmp_path, outage(4))
    assert [r.action.kind for r in world.requests if r.action.kind != "notify_team"] == []
    assert steps(plan_of(engine))["repoint:db"] == "waiting"
    (esc,) = engine.store.escalations(status="open")
    engine.ingest([ev("ok", "baton.approve", esc.id, T0, 3, escalation=esc.id,
                      by=esc.candidates[0], comment="go")])
    engine.process_pending()
    assert [r.action.kind for r in world.requests if r.action.kind != "notify_team"] == [
        "restart", "repoint", "drain"]
    assert steps(engine.store.decisions(limit=1)[0])["drain:db"] == "executed"



def test_a_restart_in_the_middle_of_a_plan_gives_the_same_plan_records(
        starter: Config, tmp_path: Path) -> None:
    """What changed since a plan's last record survives a snapshot and a restart: the
    records after it, and the ledger head, are those of a run that never stopped."""
    config = _tier0_chain(starter)
    heads, updates, wholes = [], [], []
    for name, restart in (("straight.db", False), ("restarted.db", True)):
        engine, world = run(config, tmp_path, outage(4), name=name)
        if restart:
            assert engine.snapshot()
            engine.store.close()
            engine = engine_for(config, open_store(tmp_path / name), world)
            engine.recover()
            assert engine.recovery["snapshot_at"]
        (esc,) = engine.store.escalations(status="open")
        engine.ingest([ev("ok", "baton.approve", esc.id, T0, 3, escalation=esc.id,
                          by=esc.candidates[0], comment="go")])
        engine.process_pending()
        heads.append(engine.store.ledger_head())
        updates.append([d["plan"] for d in engine.store.decisions(limit=1000)
                        if d["outcome"] == "plan updated"])
        wholes.append(plan_of(engine)["plan"])
        engine.store.close()
    assert heads[0] == heads[1] and updates[0] == updates[1] and wholes[0] == wholes[1]
    assert steps({"plan": wholes[0]})["drain:db"] == "executed"
    # each later record shows only what changed: never the whole plan again
    assert updates[0] and all(0 < len(u["steps"]) < len(wholes[0]["steps"])
                              for u in updates[0])


def test_a_plan_is_put_back_together_from_its_first_record_and_the_changes() -> None:
    first: dict[str, Any] = {"id": "P", "affected": {"teams": ["a", "b"]}, "whole": True,
             "steps": [{"step": "P/root", "status": "running"},
                       {"step": "P/notify/a", "status": "waiting"}]}
    later: list[dict[str, Any]] = [
        {"id": "P", "whole": False, "steps": [{"step": "P/root", "status": "executed"}]},
             {"id": "P", "whole": False, "steps": [{"step": "P/notify/a", "status": "executed"}]}]
    plan = fold_plan([first, *later])
    assert plan is not None and plan["affected"] == first["affected"] and plan["whole"]
    assert [s["status"] for s in plan["steps"]] == ["executed", "executed"]
    assert first["steps"][0]["status"] == "running"  # the records are not changed
    assert fold_plan(later) is None  # no record shows the plan whole
    # a record from before records held only the changes shows the plan whole
    older: dict[str, Any] = {"id": "P", "steps": [{"step": "P/root", "status": "failed"}]}
    assert fold_plan([first, older]) == {**older, "whole": True}

# -- arbitration -----------------------------------------------------------------------------

def _with_holds(config: Config) -> Config:
    settings = config.settings.model_copy(update={"coordination": Coordination(
        holds=["scale_out", "restart"])})
    return config.model_copy(update={"settings": settings})


HOLD_EVENTS = [ev("cpu", "alert", "worker", T0, 0, metric="cpu_util", value=0.97),
               ev("err", "alert", "worker", T0, 5, metric="error_rate", value=0.4)]


def test_two_actions_holding_one_resource_in_overlapping_windows_are_arbitrated(
        starter: Config, tmp_path: Path) -> None:
    # restart (impact 50, risk 20, 3 min) scores 0.25 and overrides the scale-out (-0.07)
    engine, world = run(_with_holds(starter), tmp_path, HOLD_EVENTS)
    assert [r.action.kind for r in world.requests if r.action.kind != "notify_team"] == [
        "scale_out", "restart"]
    restart = next(d for d in engine.store.decisions() if d["situation_kind"] ==
                   "service_degraded")
    assert "overlapping windows" in restart["proposals"][0]["outcome"]
    assert restart["proposals"][0]["outcome"].startswith("chosen (overrides scale_out")


def test_changing_the_objectives_at_run_time_changes_who_wins(starter: Config,
                                                              tmp_path: Path) -> None:
    # with cost weighing nothing, the scale-out scores 0.43 and the restart loses
    change = ev("obj", "baton.objectives", "objectives", T0, 1, cost=0.0, by="ana",
                comment="capacity matters more than money today")
    engine, world = run(_with_holds(starter), tmp_path, [HOLD_EVENTS[0], change,
                                                         HOLD_EVENTS[1]])
    assert [r.action.kind for r in world.requests] == ["scale_out"]
    restart = next(d for d in engine.store.decisions() if d["situation_kind"] ==
                   "service_degraded")
    assert restart["outcome"] == "escalated: lost arbitration"
    assert "overlapping windows" in restart["rationale"]
    record = next(d for d in engine.store.decisions() if d["situation_kind"] == "objectives")
    assert record["outcome"] == "objectives changed" and record["decided_by"] == "ana"
    assert "cost 1 -> 0" in record["rationale"]
    assert engine.objectives == Objectives(speed=1, cost=0, risk=1, customer_impact=1)
    # replaying the log from scratch applies the same change at the same point
    again = engine_for(_with_holds(starter), open_store(tmp_path / "c.db"))
    again.recover()
    assert again.objectives == engine.objectives


def test_a_bad_objectives_change_is_refused_and_changes_nothing(starter: Config,
                                                                tmp_path: Path) -> None:
    engine, _ = run(starter, tmp_path, [ev("obj", "baton.objectives", "objectives", T0,
                                           cost=-3, by="ana")])
    (record,) = engine.store.decisions()
    assert record["outcome"] == "objectives refused" and "cost" in record["rationale"]
    assert engine.objectives == starter.settings.objectives


def _two_budget_claims(config: Config) -> Config:
    """One cpu alert raises two situations; both remedies spend the reliability budget."""
    settings = config.settings.model_copy(update={"detectors": [
        *config.settings.detectors,
        ThresholdDetector(id="overload", kind="threshold", event="alert", metric="cpu_util",
                          above=0.95, situation="overload", domain="reliability")]})
    agents = []
    for a in config.playbooks.agents:
        if a.id == "reliability-agent":
            a = a.model_copy(update={"playbooks": {**a.playbooks, "overload": [Candidate(
                action="shed_load", amount=80, cost=0, risk=40, minutes=1,
                customer_impact=30, effect="batch jobs paused", rationale="overloaded")]}})
        agents.append(a)
    policy = ('@id("shed-in-budget") @verdict("autonomous")\n'
              'permit (principal, action == Action::"shed_load", resource)\n'
              'when { context.amount <= context.budget_left };\n')
    return with_budget(config.model_copy(update={
        "settings": settings, "playbooks": config.playbooks.model_copy(
            update={"agents": agents}),
        "policies": [*config.policies, ("shed.cedar", policy)]}), "reliability", 100)


def test_a_scarce_budget_goes_to_the_proposal_the_objectives_prefer(starter: Config,
                                                                    tmp_path: Path) -> None:
    cpu = [ev("cpu", "alert", "worker", T0, metric="cpu_util", value=0.99)]
    config = _two_budget_claims(starter)
    # default weights: scale_out (0.6 - 0.07 - 0.5 - 0.1 = -0.07) beats shed_load
    # (0.3 - 0.02 - 0 - 0.4 = -0.12); only one fits in the budget of 100
    _, world = run(config, tmp_path, cpu)
    assert [r.action.kind for r in world.requests] == ["scale_out"]
    # weigh cost heavily: shedding load (free) now wins the budget
    settings = config.settings.model_copy(update={"objectives": Objectives(cost=5.0)})
    engine, world = run(config.model_copy(update={"settings": settings}), tmp_path, cpu,
                        name="d.db")
    assert [r.action.kind for r in world.requests] == ["shed_load"]
    loser = next(d for d in engine.store.decisions() if d["situation_kind"] == "saturation")
    assert loser["outcome"] == "escalated" and loser["verdict"]["capped_by"] == "budget"
    assert "budget taken by" in loser["proposals"][0]["outcome"]


# -- determinism -----------------------------------------------------------------------------

def test_the_same_log_gives_the_same_plans_and_ledger(starter: Config, tmp_path: Path) -> None:
    config = with_impact_playbook(hub_org(starter, 12), CHAIN)
    heads = []
    for name in ("a.db", "b.db"):
        engine, _ = run(config, tmp_path, outage(12), name=name)
        heads.append(engine.store.ledger_head())
    assert heads[0] == heads[1]


def test_a_plans_record_is_the_full_dump_of_its_decision(starter: Config, tmp_path: Path,
                                                         monkeypatch: Any) -> None:
    # A plan's view goes into its record as it is (it can be large, and is shown again in
    # every update): it must give the very bytes the full dump of the decision gives.
    from baton.engine.act import Actor
    from baton.ledger.chain import canonical

    real = Actor.record
    compared: list[str] = []

    def checked(self: Actor, decision: Any, step: Any) -> None:
        full = decision.model_dump(mode="json")
        real(self, decision, step)
        if decision.plan is not None:
            body = {**full, "record": "decision", "policy_set": self.e.policies.active}
            if self.e.ledger.evidence and decision.event == self.e.ledger.cause:
                body["event_digest"] = self.e.ledger.evidence
            assert step.ledger[-1].body == canonical(body)
            compared.append(decision.outcome)

    monkeypatch.setattr(Actor, "record", checked)
    config = with_impact_playbook(hub_org(starter), CHAIN)
    run(config, tmp_path, outage())
    assert "planned" in compared and "plan updated" in compared
