"""Governance: verdicts from Cedar, capped by autonomy, budgets, freezes and the kill switch."""

from __future__ import annotations

import json
from pathlib import Path

import cedarpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baton.config import Config
from baton.model import Event
from baton.store import open_store
from conftest import T0
from helpers import RecordingWorld, engine_for, ev, with_budget, with_policies

ACTIONS = ["restart", "scale_out", "rollback"]


def decisions_by_id(store_url: str) -> dict[str, dict[str, object]]:
    store = open_store(store_url)
    return {d["id"]: d for d in store.decisions(limit=100000)}


def test_budget_exhaustion_turns_autonomous_into_approval(starter: Config,
                                                           tmp_path: Path) -> None:
    config = with_budget(starter, "reliability", 120)  # room for two scale-outs of 50
    store = open_store(tmp_path / "b.db")
    world = RecordingWorld()
    engine = engine_for(config, store, world)
    engine.ingest([ev(f"cpu{i}", "alert", svc, T0, i, metric="cpu_util", value=0.97)
                   for i, svc in enumerate(["db", "worker", "reports"])])
    engine.process_pending()
    outcomes = [(d["entity"], d["verdict"]["kind"], d["verdict"]["capped_by"])
                for d in reversed(store.decisions())]
    assert outcomes[:2] == [("db", "autonomous", None), ("worker", "autonomous", None)]
    assert outcomes[2][1] == "approval"
    assert [r.action.resource for r in world.requests] == ["db", "worker"]
    assert engine.budgets.used("reliability", T0) == 100


def test_budget_resets_on_the_next_day(starter: Config, tmp_path: Path) -> None:
    config = with_budget(starter, "reliability", 60)
    store = open_store(tmp_path / "b.db")
    world = RecordingWorld()
    engine = engine_for(config, store, world)
    engine.ingest([ev("a", "alert", "db", T0, 0, metric="cpu_util", value=0.97),
                   ev("b", "alert", "worker", T0, 1, metric="cpu_util", value=0.97),
                   ev("c", "alert", "reports", T0, 24 * 60, metric="cpu_util", value=0.97)])
    engine.process_pending()
    assert [r.action.resource for r in world.requests] == ["db", "reports"]


FREEZE = """
@id("restart-any") @verdict("autonomous")
permit (principal, action == Action::"restart", resource);
@id("rollback-any") @verdict("autonomous")
permit (principal, action == Action::"rollback", resource);
@id("freeze-only-rollback") @reason("change freeze: only rollbacks run")
forbid (principal, action, resource) when { context.freeze }
unless { action == Action::"rollback" };
"""


def test_freeze_window_denies_everything_but_rollback(starter: Config, tmp_path: Path) -> None:
    data = starter.org.model_dump()
    data["freezes"] = [{"id": "f1", "start": T0, "end": T0.replace(hour=12),
                        "domains": ["reliability"], "reason": "quarter close"}]
    from baton.org.model import Organisation

    config = with_policies(starter, FREEZE).model_copy(
        update={"org": Organisation.model_validate(data)})
    store = open_store(tmp_path / "f.db")
    world = RecordingWorld()
    engine = engine_for(config, store, world)
    engine.ingest([
        ev("d1", "deploy", "worker", T0, 0, version="v2", previous="v1"),
        ev("e1", "alert", "worker", T0, 5, metric="error_rate", value=0.3),  # rollback: runs
        ev("x1", "service.down", "db", T0, 6),  # restart during freeze: denied
        ev("x2", "service.down", "reports", T0, 130),  # after the freeze: runs
    ])
    engine.process_pending()
    by_entity = {d["entity"]: d for d in store.decisions()}
    assert by_entity["worker"]["outcome"] == "executed"
    assert by_entity["db"]["outcome"] == "denied"
    assert by_entity["db"]["verdict"]["policy_ids"] == ["freeze-only-rollback"]
    assert by_entity["reports"]["outcome"] == "executed"
    assert [(r.action.kind, r.action.resource) for r in world.requests] == [
        ("rollback", "worker"), ("restart", "reports")]


def test_kill_switch_escalates_every_autonomous_verdict_from_the_next_event(
        starter: Config, tmp_path: Path) -> None:
    store = open_store(tmp_path / "k.db")
    world = RecordingWorld()
    engine = engine_for(starter, store, world)
    engine.ingest([
        ev("a", "service.down", "db", T0, 0),
        ev("k", "baton.kill_switch", "*", T0, 1, enabled=True, by="ana"),
        ev("b", "service.down", "worker", T0, 120),  # incidents 2 h apart: not correlated
        ev("k2", "baton.kill_switch", "*", T0, 121, enabled=False, by="ana"),
        ev("c", "service.down", "reports", T0, 240),
    ])
    engine.process_pending()
    by_entity = {d["entity"]: d for d in store.decisions() if d["situation_kind"] ==
                 "service_down"}
    assert by_entity["db"]["outcome"] == "executed"
    assert by_entity["worker"]["outcome"] == "escalated"
    assert by_entity["worker"]["verdict"]["capped_by"] == "kill-switch:global"
    assert by_entity["reports"]["outcome"] == "executed"
    assert [r.action.resource for r in world.requests if r.action.kind == "restart"] == [
        "db", "reports"]
    assert json.loads(store.setting("kill_switch") or "{}") == {}


def test_domain_kill_switch_leaves_other_domains_alone(starter: Config, tmp_path: Path) -> None:
    store = open_store(tmp_path / "k.db")
    world = RecordingWorld()
    engine = engine_for(starter, store, world)
    engine.ingest([ev("k", "baton.kill_switch", "cost", T0, 0, enabled=True, domain="cost",
                      by="ben"),
                   ev("a", "service.down", "db", T0, 1)])
    engine.process_pending()
    assert [r.action.resource for r in world.requests if r.action.kind == "restart"] == ["db"]
    assert json.loads(store.setting("kill_switch") or "{}") == {"cost": True}


def test_no_matching_policy_escalates_and_never_executes(starter: Config,
                                                         tmp_path: Path) -> None:
    config = with_policies(starter, '@id("only-rollback") @verdict("autonomous")\n'
                           'permit (principal, action == Action::"rollback", resource);')
    store = open_store(tmp_path / "n.db")
    world = RecordingWorld()
    engine = engine_for(config, store, world)
    engine.ingest([ev("a", "service.down", "db", T0)])
    engine.process_pending()
    decision, plan = sorted((d for d in store.decisions()
                             if d["situation_kind"] != "assignment"),
                            key=lambda d: d["situation_kind"] == "plan")
    assert decision["outcome"] == "escalated"
    assert decision["verdict"]["capped_by"] == "no-policy"
    assert world.requests == []
    # the plan's notice to finops is not permitted by any policy either: a person decides
    assert [s["status"] for s in plan["plan"]["steps"]] == ["escalated", "escalated"]
    assert len(store.escalations(status="open")) == 2


def test_autonomy_level_approve_caps_and_shadow_never_acts(starter: Config,
                                                           tmp_path: Path) -> None:
    from baton.config import Autonomy

    settings = starter.settings.model_copy(update={"autonomy": Autonomy(
        default="autonomous", domains={"reliability": "shadow"}, actions={})})
    store = open_store(tmp_path / "s.db")
    world = RecordingWorld()
    engine = engine_for(starter.model_copy(update={"settings": settings}), store, world)
    engine.ingest([ev("a", "service.down", "db", T0)])
    engine.process_pending()
    decision, plan = sorted((d for d in store.decisions()
                             if d["situation_kind"] != "assignment"),
                            key=lambda d: d["situation_kind"] == "plan")
    assert decision["outcome"] == "shadowed" and decision["mode"] == "shadow"
    assert [s["status"] for s in plan["plan"]["steps"]] == ["shadowed", "shadowed"]
    assert world.requests == [] and store.escalations() == []

    settings = starter.settings.model_copy(update={"autonomy": Autonomy(
        default="autonomous", domains={}, actions={"restart": "approve"})})
    store = open_store(tmp_path / "a.db")
    engine = engine_for(starter.model_copy(update={"settings": settings}), store, world)
    engine.ingest([ev("a", "service.down", "db", T0)])
    engine.process_pending()
    decision = next(d for d in store.decisions() if d["situation_kind"] == "service_down")
    assert decision["verdict"]["capped_by"] == "autonomy:approve"
    # the restart waits for a person; the plan still tells finops at once
    assert [r.action.kind for r in world.requests] == ["notify_team"]


# -- the property: nothing runs without an allowing verdict ----------------------------

conditions = st.sampled_from([
    "", "when { context.tier > 0 }", "when { context.tier == 0 }",
    "when { context.amount <= context.budget_left }", "when { context.risk < 15 }",
    "unless { context.blast_radius > 1 }", "when { context.local_hour >= 12 }"])
policy = st.tuples(st.sampled_from(["permit-auto", "permit-approval", "forbid"]),
                   st.sampled_from([*ACTIONS, None]), conditions)


def _policy_text(i: int, spec: tuple[str, str | None, str]) -> str:
    effect, action, cond = spec
    scope = f'action == Action::"{action}"' if action else "action"
    notes = f'@id("p{i}") '
    if effect == "permit-auto":
        notes += '@verdict("autonomous")'
    elif effect == "permit-approval":
        notes += '@verdict("approval") @approver("oncall")'
    kind = "forbid" if effect == "forbid" else "permit"
    return f"{notes}\n{kind} (principal, {scope}, resource) {cond};"


event_spec = st.tuples(st.sampled_from(["down", "cpu", "kill-on", "kill-off", "deploy-err"]),
                       st.sampled_from(["db", "api", "worker", "reports"]))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(policies=st.lists(policy, min_size=1, max_size=6),
       events=st.lists(event_spec, min_size=1, max_size=12),
       budget=st.integers(min_value=0, max_value=200))
def test_no_action_ever_executes_without_an_allowing_verdict(
        starter: Config, tmp_path_factory: object, policies: list[tuple[str, str | None, str]],
        events: list[tuple[str, str]], budget: int) -> None:
    import tempfile

    text = "\n".join(_policy_text(i, p) for i, p in enumerate(policies))
    config = with_budget(with_policies(starter, text), "reliability", budget)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "p.db")
        world = RecordingWorld()
        engine = engine_for(config, store, world)
        log: list[Event] = []
        for i, (kind, svc) in enumerate(events):
            if kind == "down":
                log.append(ev(f"e{i}", "service.down", svc, T0, 90 * i))
            elif kind == "cpu":
                log.append(ev(f"e{i}", "alert", svc, T0, 90 * i, metric="cpu_util", value=0.99))
            elif kind == "deploy-err":
                log.append(ev(f"d{i}", "deploy", svc, T0, 90 * i, version="v2", previous="v1"))
                log.append(ev(f"e{i}", "alert", svc, T0, 90 * i + 1, metric="error_rate",
                              value=0.5))
            else:
                log.append(ev(f"k{i}", "baton.kill_switch", "*", T0, 90 * i,
                              enabled=kind == "kill-on", by="ana"))
        engine.ingest(log)
        engine.process_pending()
        decisions = {d["id"]: d for d in store.decisions(limit=10000)}
        killed = False
        kill_times = sorted((e.time, bool(e.attrs["enabled"])) for e in log
                            if e.type == "baton.kill_switch")
        policy_set = engine.book.policy_set
        for request in world.requests:
            d = decisions[request.decision]
            if d["situation_kind"] == "plan":  # a joint plan's step: its own verdict
                n = int(request.idempotency_key.split(":")[1])
                d = d["plan"]["steps"][n]
                assert (d["action"], d["resource"]) == (request.action.kind,
                                                        request.action.resource)
                d = {**d, "verdict": {"kind": d["verdict"], "capped_by": d["capped_by"]}}
            verdict = d["verdict"]
            # 1. the recorded verdict allowed it, uncapped
            assert verdict["kind"] == "autonomous", d
            assert verdict["capped_by"] is None
            # 2. Cedar itself, asked again with the recorded context, allows it with an
            #    autonomous permit and no forbid
            res = cedarpy.is_authorized(
                {"principal": {"type": "Agent", "id": "reliability-agent"},
                 "action": {"type": "Action", "id": request.action.kind},
                 "resource": {"type": request.action.resource_type,
                              "id": request.action.resource},
                 "context": d["context"]}, policy_set, engine.gate.entities)
            assert res.allowed
            assert any(engine.book.info[p].verdict == "autonomous"
                       for p in res.diagnostics.reasons)
            # 3. the kill switch was off when it ran
            killed = False
            for at, on in kill_times:
                if at <= request.at:
                    killed = on
            assert not killed
            # 4. the budget was not exceeded by it
            assert d["context"]["amount"] <= d["context"]["budget_left"]
        store.close()
