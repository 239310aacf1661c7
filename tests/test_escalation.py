"""Escalation chains: follow the sun, SLA steps, fallbacks, who may answer, changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from baton.app import resolve
from baton.config import Config, Escalation
from baton.engine.pipeline import Engine
from baton.errors import ConflictError, ForbiddenError, PolicyError
from baton.escalation import rules
from baton.governance.policies import PolicyBook
from baton.model import Event
from baton.org.model import Organisation
from baton.store import Step, open_store
from conftest import T0
from helpers import RecordingWorld, engine_for, ev

BERLIN, SINGAPORE, NEW_YORK = "Europe/Berlin", "Asia/Singapore", "America/New_York"
SATURDAY = 5 * 24 * 60  # minutes after T0 (Monday 10:00 UTC): nobody works at the weekend


def person(pid: str, role: str, team: str, zone: str, access: str = "approver",
           **extra: Any) -> dict[str, Any]:
    return {"id": pid, "role": role, "team": team, "timezone": zone, "access": access, **extra}


#: platform owns the services. Its rotation takes weekly turns; at T0 it is sue's turn
#: (New York, 05:00), while max (Berlin, 11:00) is at work and raj (Singapore, 18:00) is not.
ORG: dict[str, Any] = {
    "name": "escalation-test", "timezone": "UTC",
    "domains": [{"id": "reliability", "owner": "dora"}, {"id": "cost", "owner": "ben"}],
    "teams": [{"id": "platform", "domain": "reliability", "lead": "lea"},
              {"id": "ops", "domain": "reliability", "lead": "omar"},
              {"id": "finops", "domain": "cost", "lead": "ben"}],
    "people": [person("lea", "lead", "platform", BERLIN, reports_to="dora"),
               person("raj", "engineer", "platform", SINGAPORE, reports_to="lea"),
               person("max", "engineer", "platform", BERLIN, reports_to="lea"),
               person("sue", "engineer", "platform", NEW_YORK, reports_to="lea"),
               person("vic", "engineer", "platform", BERLIN, "viewer", reports_to="lea"),
               person("dora", "director", "ops", NEW_YORK),
               person("omar", "lead", "ops", BERLIN, reports_to="dora"),
               person("ada", "admin", "ops", BERLIN, "admin"),
               person("ben", "lead", "finops", BERLIN)],
    "rotations": [{"id": "platform-oncall", "team": "platform",
                   "members": ["raj", "max", "sue"]}],
    "services": [{"id": "db", "tier": 1, "team": "platform"},
                 {"id": "api", "tier": 0, "team": "platform", "dependencies": ["db"]},
                 {"id": "worker", "tier": 2, "team": "platform", "dependencies": ["db"]},
                 {"id": "reports", "tier": 3, "team": "finops", "dependencies": ["worker"]}],
    "budgets": [{"domain": "reliability", "daily": 500}, {"domain": "cost", "daily": 200}],
}


def tier0_restart(*notes: str) -> str:
    """A policy making tier-0 restarts wait for a person, with extra annotations."""
    return (f'@id("restart-tier0") @verdict("approval") {" ".join(notes)}\n'
            'permit (principal, action == Action::"restart", resource) '
            "when { context.tier == 0 };\n")


SCALE_OUT = """
@id("scale-out-lead") @verdict("approval") @approver("team_lead") @fallback("action:open_ticket")
permit (principal, action == Action::"scale_out", resource);
@id("scale-out-cap") @reason("a scale-out spends at most 100")
forbid (principal, action == Action::"scale_out", resource) when { context.amount > 100 };
"""


def tickets(verdict: str = "autonomous") -> str:
    approver = '@approver("oncall")' if verdict == "approval" else ""
    return (f'@id("tickets") @verdict("{verdict}") {approver}\n'
            'permit (principal, action == Action::"open_ticket", resource);\n')


def configured(starter: Config, policies: str, *, urgent: int = 1) -> Config:
    """The starter playbooks and detectors on the test organisation and policies."""
    settings = starter.settings.model_copy(update={"escalation": Escalation(
        sla_minutes={0: 15, 1: 30, 2: 60}, urgent_severity=urgent)})
    return starter.model_copy(update={"org": Organisation.model_validate(ORG),
                                      "settings": settings,
                                      "policies": [("test.cedar", policies)]})


def run(config: Config, tmp_path: Path, events: list[Event], name: str = "e.db",
        ) -> tuple[Engine, RecordingWorld]:
    world = RecordingWorld()
    engine = engine_for(config, open_store(tmp_path / name), world)
    engine.ingest(events)
    engine.process_pending()
    return engine, world


def answer(engine: Engine, key: str, by: str, minutes: float, *, approve: bool = True,
           **attrs: Any) -> dict[str, Any]:
    """Approve or reject the only escalation ever opened; returns the newest record."""
    (esc,) = engine.store.escalations()
    kind = "baton.approve" if approve else "baton.reject"
    engine.ingest([ev(key, kind, esc.id, T0, minutes, escalation=esc.id, by=by, **attrs)])
    engine.process_pending()
    return engine.store.decisions(limit=1)[0]


DOWN = ev("down", "service.down", "api", T0)  # tier 0: severity 0, urgent


# --- follow the sun --------------------------------------------------------------------------


def test_an_urgent_escalation_skips_the_off_hours_oncall_for_a_rotation_member_at_work(
        starter: Config, tmp_path: Path) -> None:
    engine, _ = run(configured(starter, tier0_restart('@approver("oncall")')), tmp_path,
                    [DOWN])
    (esc,) = engine.store.escalations()
    assert esc.candidates == ["max"]
    assert esc.history[0]["off_hours"] == [] and "sue is off hours" in esc.history[0]["route"]
    assert engine.stats.off_hours_pages == {}


def test_a_matter_that_can_wait_goes_to_the_oncall_even_off_hours(
        starter: Config, tmp_path: Path) -> None:
    engine, _ = run(configured(starter, tier0_restart('@approver("oncall")'), urgent=-1),
                    tmp_path, [DOWN])
    (esc,) = engine.store.escalations()
    assert esc.candidates == ["sue"] and esc.history[0]["off_hours"] == ["sue"]
    assert engine.stats.off_hours_pages == {"sue": 1}


def test_off_hours_pages_are_counted_when_nobody_eligible_is_at_work(
        starter: Config, tmp_path: Path) -> None:
    engine, _ = run(configured(starter, tier0_restart('@approver("oncall")')), tmp_path,
                    [ev("down", "service.down", "api", T0, SATURDAY)])
    (esc,) = engine.store.escalations()
    assert esc.candidates == ["sue"] and esc.history[0]["off_hours"] == ["sue"]
    # the approval pages sue; the incident's response pages someone too (nobody is at
    # work on a Saturday), and the optimiser picks a different person than the approver
    (assigned,) = [a for d in engine.store.decisions() if d["situation_kind"] == "assignment"
                   for a in d["context"]["assignments"]]
    assert assigned["off_hours"] is True
    assert engine.stats.off_hours_pages == {"sue": 1, assigned["person"]: 1}


# --- SLA steps and fallbacks -----------------------------------------------------------------


def test_an_unanswered_escalation_climbs_the_chain_then_falls_back_to_reject(
        starter: Config, tmp_path: Path) -> None:
    config = configured(starter, tier0_restart('@approver("oncall")'), urgent=-1)
    engine, world = run(config, tmp_path, [DOWN, ev("tick", "baton.tick", "baton", T0, 50)])
    (esc,) = engine.store.escalations()
    assert [(h["step"], h["candidates"]) for h in esc.history] == [
        ("oncall", ["sue"]), ("team_lead", ["lea"]), ("domain_owner", ["dora"])]
    assert [h["deadline"] for h in esc.history] == [
        (T0 + timedelta(minutes=m)).isoformat() for m in (15, 30, 45)]
    records = [d for d in engine.store.decisions()[::-1]
               if d["situation_kind"] != "assignment"]
    assert [r["outcome"] for r in records] == [
        "escalated", "escalated to team_lead", "escalated to domain_owner",
        "fallback: rejected"]
    assert all(r["decided_by"] == "baton" for r in records[1:])
    assert "sue" in records[1]["rationale"] and "lea" in records[1]["rationale"]
    assert "'reject' (the default)" in records[3]["rationale"]
    assert esc.status == "expired" and esc.resolution == "fallback: rejected"
    assert engine.stats.sla_breaches == 3 and engine.stats.escalations_expired == 1
    assert world.requests == []


@pytest.mark.parametrize(("ticket_verdict", "outcome", "ran"), [
    ("autonomous", "fallback: executed", ["open_ticket"]),
    ("approval", "fallback: rejected", []),
])
def test_the_fallback_action_runs_only_when_governance_lets_it_run_alone(
        starter: Config, tmp_path: Path, ticket_verdict: str, outcome: str,
        ran: list[str]) -> None:
    config = configured(starter, SCALE_OUT + tickets(ticket_verdict))
    engine, world = run(config, tmp_path, [
        ev("cpu", "alert", "worker", T0, 0, metric="cpu_util", value=0.97),
        ev("tick", "baton.tick", "baton", T0, 125)])  # team_lead, domain_owner: 60 min each
    fallback = engine.store.decisions(limit=1)[0]
    assert fallback["outcome"] == outcome and fallback["mode"] == "fallback"
    assert fallback["action"]["kind"] == "open_ticket"
    assert fallback["action"]["resource"] == "worker"
    assert [r.action.kind for r in world.requests] == ran
    if ran:
        assert fallback["verdict"]["policy_ids"] == ["tickets"]
    else:
        assert "needs approval itself" in fallback["rationale"]


# --- who may answer --------------------------------------------------------------------------


@pytest.mark.parametrize(("by", "rule"), [
    ("omar", "refused: not eligible"),  # an approver, but never paged
    ("vic", "refused: access"),  # paged or not, a viewer never answers
    ("nobody-here", "refused"),
])
def test_an_answer_from_someone_who_may_not_answer_is_refused_and_changes_nothing(
        starter: Config, tmp_path: Path, by: str, rule: str) -> None:
    engine, world = run(configured(starter, tier0_restart('@approver("oncall")')), tmp_path,
                        [DOWN])
    record = answer(engine, "a1", by, 2)
    assert record["outcome"] == rule and record["decided_by"] == by
    assert world.requests == []
    (esc,) = engine.store.escalations()
    assert esc.status == "open"
    assert answer(engine, "a2", "max", 3)["outcome"] == "approved; executed"


def test_an_admin_may_answer_without_being_paged(starter: Config, tmp_path: Path) -> None:
    engine, world = run(configured(starter, tier0_restart('@approver("oncall")')), tmp_path,
                        [DOWN])
    assert answer(engine, "a1", "ada", 2)["outcome"] == "approved; executed"
    assert [r.action.resource for r in world.requests] == ["api"]


def test_separation_of_duties_keeps_the_owning_team_from_deciding(
        starter: Config, tmp_path: Path) -> None:
    policies = tier0_restart('@approver("domain_owner")', '@separation("owner")')
    engine, world = run(configured(starter, policies, urgent=-1), tmp_path, [DOWN])
    (esc,) = engine.store.escalations()
    assert esc.separation == ["owner"] and esc.candidates == ["dora"]
    refused = answer(engine, "a1", "lea", 2, approve=False)
    assert refused["outcome"] == "refused: separation of duties"
    assert "platform" in refused["rationale"] and "@separation" in refused["rationale"]
    assert engine.store.escalations()[0].status == "open"
    assert answer(engine, "a2", "dora", 3)["outcome"] == "approved; executed"
    assert len(world.requests) == 1


def test_the_person_who_raised_a_request_may_not_answer_it(
        starter: Config, tmp_path: Path) -> None:
    raised = ev("down", "service.down", "api", T0, raised_by="dora")
    engine, world = run(configured(starter, tier0_restart('@approver("domain_owner")')),
                        tmp_path, [raised])
    (esc,) = engine.store.escalations()
    assert esc.raised_by == "dora"
    assert esc.candidates == ["lea"]  # dora's report stands in for her
    refused = answer(engine, "a1", "dora", 2)
    assert refused["outcome"] == "refused: own request" and "dora raised" in refused["rationale"]
    assert world.requests == []


def test_the_pure_checks_agree_with_the_engine(starter: Config, tmp_path: Path) -> None:
    engine, _ = run(configured(starter, tier0_restart('@approver("oncall")')), tmp_path,
                    [DOWN])
    org, (esc,) = engine.config.org, engine.store.escalations()
    at = T0 + timedelta(minutes=1)
    assert rules.check_answer(org, esc, "max", at=at) is None
    assert rules.check_answer(org, esc, "ada", at=at) is None
    assert "not paged" in (rules.check_answer(org, esc, "omar", at=at) or "")
    assert "viewer access" in (rules.check_answer(org, esc, "vic", at=at) or "")
    assert rules.check_open(esc, at=at) is None
    assert "expired" in (rules.check_open(esc, at=T0 + timedelta(minutes=45)) or "")


# --- approving with changes ------------------------------------------------------------------


CPU = ev("cpu", "alert", "worker", T0, 0, metric="cpu_util", value=0.97)  # scale_out, 50


def test_an_approver_may_change_the_action_within_policy(starter: Config,
                                                        tmp_path: Path) -> None:
    engine, world = run(configured(starter, SCALE_OUT + tickets()), tmp_path, [CPU])
    record = answer(engine, "a1", "lea", 5, params={"replicas": 3}, amount=80)
    assert record["outcome"] == "approved with changes; executed"
    (request,) = world.requests
    assert request.action.params == {"replicas": 3} and request.action.amount == 80
    assert record["modification"]["original"] == {"params": {}, "amount": 50}
    assert record["modification"]["modified"] == {"params": {"replicas": 3}, "amount": 80}
    assert record["context"]["amount"] == 80
    assert engine.stats.spend == 80


def test_a_change_outside_policy_is_refused_naming_the_policy(starter: Config,
                                                             tmp_path: Path) -> None:
    engine, world = run(configured(starter, SCALE_OUT + tickets()), tmp_path, [CPU])
    (esc,) = engine.store.escalations()
    before = engine.ledger.seq
    reason = engine.actor.check_change(esc.id, None, 500, T0 + timedelta(minutes=5))
    assert reason is not None and "scale-out-cap" in reason
    assert engine.ledger.seq == before  # the pre-check writes nothing
    record = answer(engine, "a1", "lea", 5, amount=500)
    assert record["outcome"] == "refused: outside policy"
    assert record["verdict"]["policy_ids"] == ["scale-out-cap"]
    assert world.requests == [] and engine.store.escalations()[0].status == "open"


def test_resolve_refuses_before_writing_and_passes_a_change_through(
        starter: Config, tmp_path: Path) -> None:
    engine, world = run(configured(starter, SCALE_OUT + tickets()), tmp_path,
                        [CPU, ev("tick", "baton.tick", "baton", T0, 5)])
    engine.store.commit(Step(settings={"clock": "virtual"}))
    (esc,) = engine.store.escalations()
    before = engine.store.ledger_head()
    with pytest.raises(ForbiddenError, match="not paged"):
        resolve(engine, esc.id, approve=True, by="omar", comment="")
    with pytest.raises(ConflictError, match="scale-out-cap"):
        resolve(engine, esc.id, approve=True, by="lea", comment="", amount=500)
    assert engine.store.ledger_head() == before
    record = resolve(engine, esc.id, approve=True, by="lea", comment="ok", params={"n": 1})
    assert record["outcome"] == "approved with changes; executed"
    assert world.requests[0].action.params == {"n": 1}


# --- policies and determinism ----------------------------------------------------------------


@pytest.mark.parametrize("notes", ['@separation("team")', '@fallback("ignore")',
                                   '@fallback("action:")'])
def test_a_bad_escalation_annotation_is_a_policy_error(notes: str) -> None:
    with pytest.raises(PolicyError, match=r"@separation|@fallback"):
        PolicyBook([("p.cedar", tier0_restart('@approver("oncall")', notes))])


def test_the_same_log_gives_the_same_ledger_and_a_recovered_engine_agrees(
        starter: Config, tmp_path: Path) -> None:
    config = configured(starter, tier0_restart('@approver("oncall")') + SCALE_OUT + tickets())
    events = [DOWN, CPU, ev("late", "service.down", "api", T0, SATURDAY - 60),
              ev("omar", "baton.approve", "E", T0, 3, escalation="E-0000001", by="omar"),
              ev("tick", "baton.tick", "baton", T0, SATURDAY)]
    first, _ = run(config, tmp_path, events, "a.db")
    second, _ = run(config, tmp_path, events, "b.db")
    assert first.ledger.head == second.ledger.head and first.stats == second.stats
    assert first.stats.escalation_steps > 0 and first.stats.fallbacks == 3
    again = engine_for(config, open_store(tmp_path / "a.db"))
    again.recover()
    assert (again.ledger.seq, again.ledger.head) == first.store.ledger_head()
    assert again.stats == first.stats


def test_a_role_step_pages_its_member_on_call_before_others_in_working_hours() -> None:
    from baton.config import load_config
    from baton.escalation import routing
    from baton.scenarios import scenario_path

    org = load_config(scenario_path("itops")).org
    security = [p.id for p in org.people if p.role == "security"]
    at = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # Singapore's morning
    duty = org.oncall("security-ops", at)
    assert duty in security
    found = routing.page(org, "security", team="identity", domain="security", at=at,
                         urgent=True, allowed=lambda _p: True)
    assert found.candidates == [duty] and found.route == "the role's member on call"
    # nobody on call may answer: the others in working hours
    found = routing.page(org, "security", team="identity", domain="security", at=at,
                         urgent=True, allowed=lambda p: p != duty)
    assert duty not in found.candidates and found.route != "the role's member on call"


def test_a_role_held_across_the_organisation_pages_the_few_nearest_the_team() -> None:
    from baton.escalation import routing

    data = {**ORG, "people": [
        *ORG["people"],
        # two auditors under the platform lead's director, five under finops' lead
        person("ida", "auditor", "ops", BERLIN, reports_to="dora"),
        person("ivo", "auditor", "platform", BERLIN, reports_to="lea"),
        *[person(f"far{i}", "auditor", "finops", BERLIN, reports_to="ben") for i in range(5)]]}
    org = Organisation.model_validate(data)
    at = T0  # Monday 10:00 UTC: Berlin is at work, and none of them is on call
    found = routing.page(org, "auditor", team="platform", domain="reliability", at=at,
                         urgent=True, allowed=lambda _p: True)
    # ivo reports to platform's lead (1 step), ida to the lead's manager (2); the rest share
    # no manager with the team and follow in the organisation's order
    assert found.candidates == ["ivo", "ida", "far0"]
    assert found.route == "the role's members in working hours (none of them is on call)"
    found = routing.page(org, "auditor", team="finops", domain="cost", at=at, urgent=True,
                         allowed=lambda p: p != "far0", role_pages=2)
    assert found.candidates == ["far1", "far2"]  # finops' own, then the others
    # nobody at work (a Saturday): still the nearest three, not all seven
    found = routing.page(org, "auditor", team="platform", domain="reliability",
                         at=T0 + timedelta(minutes=SATURDAY), urgent=True,
                         allowed=lambda _p: True)
    assert found.candidates == ["ivo", "ida", "far0"]
    assert found.route == "the role's members nearest the team: none is in working hours"
    # all seven hold the role: an unbounded step would page every one of them
    assert len(org.with_role["auditor"]) == 7
    assert routing.step_people(org, "auditor", team="finops", domain="cost", at=at)[0][:5] \
        == [f"far{i}" for i in range(5)]


def test_role_pages_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="role_pages"):
        Escalation(role_pages=0)
