"""The bundled itops scenario: configuration, organisation, policies and simulated world."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cedarpy
import pytest
import yaml

from baton.config import Config, load_config
from baton.errors import NotFoundError
from baton.execution.port import ActionRequest, ExecResult
from baton.execution.sim import SimConnector
from baton.model import Action, Escalation, Event
from baton.model.events import EVENT_TYPES, parse_event
from baton.org.graph import ServiceGraph
from baton.scenarios import scenario_path
from baton.scenarios.itops import ItopsWorld

START = datetime(2026, 3, 2, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(scenario_path("itops"))


def _day(config: Config, seed: int = 7) -> list[Event]:
    world = ItopsWorld(config.org, seed=seed, start=START)
    events: list[Event] = []
    for hour in range(1, 25):
        events += world.events_until(START + timedelta(hours=hour))
    return events


@pytest.fixture(scope="module")
def day(config: Config) -> list[Event]:
    return _day(config)


# --- configuration and organisation ------------------------------------------------------

def test_bundled_config_loads(config: Config) -> None:
    assert config.settings.name == "itops"
    assert config.settings.seed == 7
    assert {a.domain for a in config.playbooks.agents} == {
        "reliability", "cost", "security", "support"}
    assert config.org.timezone == "UTC"


def test_unknown_scenario_names_the_available_ones() -> None:
    with pytest.raises(NotFoundError, match="itops"):
        scenario_path("no-such-scenario")


def test_organisation_size_and_shape(config: Config) -> None:
    org = config.org
    assert len(org.services) >= 150
    assert len(org.teams) >= 10
    assert len(org.people) >= 60
    assert {p.timezone for p in org.people} == {
        "America/New_York", "Europe/Berlin", "Asia/Singapore"}
    assert {p.role for p in org.people} >= {
        "engineer", "lead", "manager", "director", "security", "support"}
    assert all(t.id in org.rotation_of_team for t in org.teams)
    graph = ServiceGraph(org.services)
    assert graph.cycle() is None
    assert max(graph.blast_radius(s.id) for s in org.services) >= 40
    assert any(s.customer_facing and s.tier == 0 for s in org.services)


def test_org_yaml_is_what_the_generator_writes(config: Config) -> None:
    spec = importlib.util.spec_from_file_location("gen_itops_org",
                                                  ROOT / "tools" / "gen_itops_org.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    body = yaml.safe_dump(gen.build(), sort_keys=False, allow_unicode=True, width=100,
                          default_flow_style=None)
    assert (config.root / "org.yaml").read_text(encoding="utf-8") == gen.HEADER + body


# --- policies ------------------------------------------------------------------------------

def _annotations(config: Config) -> tuple[str, list[dict[str, str]]]:
    text = "\n".join(body for _, body in config.policies)
    parsed = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]
    return text, [parsed[f"policy{i}"]["annotations"] for i in range(len(parsed))]


def test_every_policy_file_parses_and_every_policy_has_an_id(config: Config) -> None:
    assert len(config.policies) >= 4
    ids: list[str] = []
    for name, body in config.policies:
        cedarpy.PolicySet.from_str(body)
        for policy in json.loads(cedarpy.policies_to_json_str(body))["staticPolicies"].values():
            notes = policy["annotations"]
            assert "id" in notes, name
            ids.append(notes["id"])
            assert "verdict" in notes or ("reason" in notes and policy["effect"] == "forbid"), name
    assert len(ids) == len(set(ids))


def _decide(config: Config, kind: str, resource: str, resource_type: str = "Service",
            **context: Any) -> tuple[bool, set[str], set[str]]:
    """Ask Cedar; return (allowed, matched policy ids, verdicts of the matched permits)."""
    text, annotations = _annotations(config)
    org = config.org
    entities = [{"uid": {"type": "Service", "id": s.id}, "parents": [],
                 "attrs": {"tier": s.tier, "team": s.team,
                           "domain": org.team[s.team].domain,
                           "customer_facing": s.customer_facing}} for s in org.services]
    entities.append({"uid": {"type": "Agent", "id": "reliability"}, "parents": [],
                     "attrs": {"domain": "reliability"}})
    tier = org.service[resource].tier if resource in org.service else -1
    ctx: dict[str, Any] = {
        "amount": 0, "risk": 10, "confidence": 90, "blast_radius": 0, "tier": tier,
        "severity": 2, "budget_daily": 1500, "budget_used": 0, "budget_left": 1500,
        "local_hour": 10, "weekday": 0, "freeze": False, "minutes_since_deploy": -1,
        "credential_leaked": False, "domain": "reliability", "situation": "test"}
    ctx.update(context)
    result = cedarpy.is_authorized({
        "principal": 'Agent::"reliability"', "action": f'Action::"{kind}"',
        "resource": f'{resource_type}::"{resource}"', "context": ctx}, text, entities)
    assert not result.diagnostics.errors
    matched = [annotations[int(r.removeprefix("policy"))] for r in result.diagnostics.reasons]
    return (result.allowed, {a["id"] for a in matched},
            {a.get("verdict", "") for a in matched})


def _tier(config: Config, tier: int) -> str:
    return next(s.id for s in config.org.services if s.tier == tier)


def test_restart_tier0_needs_oncall_approval(config: Config) -> None:
    allowed, ids, verdicts = _decide(config, "restart", _tier(config, 0))
    assert allowed and ids == {"restart-tier0-oncall"} and verdicts == {"approval"}


def test_restart_below_tier0_is_autonomous(config: Config) -> None:
    allowed, ids, verdicts = _decide(config, "restart", _tier(config, 2))
    assert allowed and ids == {"restart-below-tier0"} and verdicts == {"autonomous"}


def test_delete_data_is_always_forbidden(config: Config) -> None:
    allowed, ids, _ = _decide(config, "delete_data", "postgres-main", risk=0)
    assert not allowed and "delete-data-never" in ids


def test_freeze_forbids_everything_but_rollback(config: Config) -> None:
    svc = _tier(config, 2)
    for kind in ("restart", "scale_out", "scale_in", "renew_cert", "deploy"):
        allowed, ids, _ = _decide(config, kind, svc, freeze=True)
        assert not allowed and ids == {"freeze-only-rollback"}, kind
    allowed, ids, verdicts = _decide(config, "rollback", svc, freeze=True,
                                     minutes_since_deploy=12)
    assert allowed and verdicts == {"autonomous"}


def test_budget_rollback_and_access_rules(config: Config) -> None:
    svc = _tier(config, 1)
    assert _decide(config, "scale_out", svc, amount=150)[2] == {"autonomous"}
    assert _decide(config, "scale_out", svc, amount=150, budget_left=100)[2] == {"approval"}
    assert _decide(config, "rollback", svc, minutes_since_deploy=200)[2] == {"approval"}
    grant = {"resource_type": "Grant"}
    assert _decide(config, "revoke_access", "grant-00001", **grant)[2] == {"approval"}
    assert _decide(config, "revoke_access", "grant-00001", credential_leaked=True,
                   **grant)[2] == {"autonomous"}


# --- the simulated world -----------------------------------------------------------------

def test_a_day_of_events_is_large_valid_and_ordered(day: list[Event]) -> None:
    assert len(day) >= 10_000
    for event in day:
        parse_event(event.model_dump(mode="json"), "world")
        assert event.type in EVENT_TYPES
        assert START < event.time <= START + timedelta(hours=24)
    assert len({e.key for e in day}) == len(day)
    counts = Counter(e.type for e in day)
    for kind in ("metric", "alert", "cost.sample", "deploy", "service.down", "ticket.opened",
                 "ticket.resolved", "access.grant", "credential.leak", "cert.expiry"):
        assert counts[kind] > 0, kind
    assert {e.attrs["metric"] for e in day if e.type == "alert"} == {"error_rate", "cpu_util"}


def test_windows_are_half_open_and_sorted(config: Config) -> None:
    world = ItopsWorld(config.org, seed=7, start=START)
    previous = START
    for minutes in (7, 15, 15, 60, 61, 200):
        until = START + timedelta(minutes=minutes)
        events = world.events_until(until)
        assert all(previous < e.time <= until for e in events)
        assert events == sorted(events, key=lambda e: (e.time, e.key))
        previous = max(previous, until)


def test_same_seed_same_events_other_seed_other_events(config: Config,
                                                       day: list[Event]) -> None:
    again = _day(config)
    assert [e.to_json() for e in again] == [e.to_json() for e in day]
    other = _day(config, seed=8)
    assert [e.to_json() for e in other] != [e.to_json() for e in day]


def _request(kind: str, resource: str, at: datetime, key: str,
             resource_type: str = "Service", **params: Any) -> ActionRequest:
    return ActionRequest(idempotency_key=key, decision=f"d-{key}", domain="reliability", at=at,
                         action=Action(kind=kind, resource=resource,
                                       resource_type=resource_type, params=params))


def test_crash_cascades_and_restart_recovers(config: Config) -> None:
    world = ItopsWorld(config.org, seed=7, start=START)
    crash_at = START + timedelta(minutes=30)
    world.inject_failure("kafka", crash_at)
    events = world.events_until(START + timedelta(minutes=50))
    down = [e for e in events if e.type == "service.down" and e.entity == "kafka"]
    assert down and down[0].time == crash_at
    dependents = ServiceGraph(config.org.services).dependents("kafka")
    alerted = {e.entity for e in events if e.type == "alert" and e.time > crash_at
               and e.attrs["metric"] == "error_rate" and e.entity in dependents}
    assert len(alerted) >= 20
    assert world.status("kafka") == "down"

    restart_at = START + timedelta(minutes=50)
    result = world.apply(_request("restart", "kafka", restart_at, "restart-kafka-1"))
    assert result.ok, result.detail
    later = world.events_until(START + timedelta(minutes=80))
    recovered = [e for e in later if e.type == "service.recovered" and e.entity == "kafka"]
    assert recovered and recovered[0].time > restart_at
    assert world.status("kafka") == "ok"
    quiet = recovered[0].time + timedelta(minutes=1)
    assert not [e for e in later if e.entity == "kafka" and e.type == "alert" and e.time > quiet]


def test_actions_on_healthy_services_are_no_ops_and_unknown_ones_fail(config: Config) -> None:
    world = ItopsWorld(config.org, seed=7, start=START)
    at = START + timedelta(minutes=5)
    assert world.apply(_request("restart", "spellcheck", at, "k1")).ok
    assert world.status("spellcheck") == "ok"
    assert not world.apply(_request("restart", "no-such-service", at, "k2")).ok
    assert not world.apply(_request("teleport", "spellcheck", at, "k3")).ok


def test_rollback_fixes_a_bad_deploy(config: Config) -> None:
    world = ItopsWorld(config.org, seed=7, start=START)
    end = START + timedelta(hours=12)
    world.events_until(end)
    bad = sorted(s for s, svc in world.svc.items() if svc.bad_error and not svc.down)
    assert bad
    results = [world.apply(_request("rollback", sid, end, f"rb-{sid}")) for sid in bad]
    assert sum(r.ok for r in results) >= len(bad) * 0.8  # a seeded few fail
    later = world.events_until(end + timedelta(minutes=30))
    rolled = {e.entity for e in later if e.type == "deploy" and e.attrs.get("rollback")}
    assert rolled == {s for s, r in zip(bad, results, strict=True) if r.ok}


def test_failures_are_a_seeded_few(config: Config) -> None:
    world = ItopsWorld(config.org, seed=7, start=START)
    at = START + timedelta(minutes=5)
    results = [world.apply(_request("scale_out", "spellcheck", at, f"so-{i}", replicas=1))
               for i in range(200)]
    failed = sum(not r.ok for r in results)
    assert 1 <= failed <= 25


def test_approvers_answer_once_after_a_delay(config: Config) -> None:
    world = ItopsWorld(config.org, seed=7, start=START)
    created = START + timedelta(hours=10)
    escalations = [Escalation(
        id=f"esc-{i}", decision=f"dec-{i}", created=created,
        deadline=created + timedelta(minutes=30), approver="oncall",
        candidates=[] if i % 2 else [config.org.teams[0].lead],
        action={"kind": "restart", "resource": "kafka", "resource_type": "Service"},
        domain="reliability", situation=f"sit-{i}") for i in range(40)]
    assert world.answer(escalations, created) == []
    answers = world.answer(escalations, created + timedelta(hours=2))
    assert len(answers) == 40
    assert world.answer(escalations, created + timedelta(hours=3)) == []
    kinds = Counter(e.type for e in answers)
    assert kinds["baton.approve"] > kinds["baton.reject"]
    for event in answers:
        parse_event(event.model_dump(mode="json"), "approvers")
        assert event.key == f"answer:{event.attrs['escalation']}"
        assert event.attrs["by"] in config.org.person
        assert event.time > created


def test_sim_connector_dedupes_by_idempotency_key() -> None:
    class Counting:
        def __init__(self) -> None:
            self.calls = 0

        def apply(self, request: ActionRequest) -> ExecResult:
            self.calls += 1
            if request.action.kind == "explode":
                raise RuntimeError("boom")
            return ExecResult(ok=True, detail=f"call {self.calls}")

    world = Counting()
    connector = SimConnector(world)
    assert connector.name == "sim" and connector.idempotent
    first = connector.execute(_request("restart", "kafka", START, "same"))
    again = connector.execute(_request("restart", "kafka", START, "same"))
    assert first == again and world.calls == 1
    failed = connector.execute(_request("explode", "kafka", START, "other"))
    assert not failed.ok and "boom" in failed.detail
