"""The human-led against AI-led simulation: parameters, both models, measures, the command."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baton.cli import app
from baton.config import Config, load_config
from baton.engine.pipeline import Engine
from baton.errors import ConfigError
from baton.model import Event
from baton.org.graph import ServiceGraph
from baton.org.model import Budget, Domain, Organisation, Person, Rotation, Service, Team
from baton.scenarios import scenario_path
from baton.sim.ai import AiModel
from baton.sim.experiment import _slopes
from baton.sim.human import HumanModel
from baton.sim.measure import Outcome, capacity, inconsistency, loglog_slope
from baton.sim.orgscale import scaled_config
from baton.sim.params import BUNDLED, load_params
from baton.sim.policy import Judge
from baton.sim.runs import run_model
from baton.sim.workload import workload_of

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday; 03:00 in Berlin is 02:00 UTC


def tiny() -> Config:
    """One Berlin team with a reporting line, a tier-0 and a tier-3 service."""
    base = load_config(scenario_path("itops"))

    def berliner(pid: str, role: str, boss: str | None) -> Person:
        return Person(id=pid, role=role, team="web", timezone="Europe/Berlin",
                      working_hours="09:00-17:00", access="approver", reports_to=boss)

    people = [berliner("dir", "director", None), berliner("mgr", "manager", "dir"),
              berliner("lead", "lead", "mgr"), berliner("eng1", "engineer", "lead"),
              berliner("eng2", "engineer", "lead")]
    org = Organisation(
        name="tiny", domains=[Domain(id=d, owner="dir") for d in
                              ("reliability", "cost", "security", "support")],
        teams=[Team(id="web", domain="reliability", lead="lead")], people=people,
        rotations=[Rotation(id="web-oncall", team="web", members=["eng1", "eng2"])],
        services=[Service(id="shop", tier=0, team="web", customer_facing=True),
                  Service(id="batch", tier=3, team="web")],
        budgets=[Budget(domain="reliability", daily=1000)])
    return Config(root=base.root, settings=base.settings, org=org, playbooks=base.playbooks,
                  policies=base.policies)


def at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def human(config: Config, events: list[Event]) -> dict[str, Outcome]:
    work = workload_of(config, events, origin=START, days=1)
    outcomes = HumanModel(config, load_params(), work, seed=7, drain_days=7).run()
    return {o.case.split(":")[-1]: o for o in outcomes}


# --- parameters -----------------------------------------------------------------------------


def test_every_parameter_has_a_source_or_is_marked_as_an_assumption() -> None:
    params = load_params()
    rows = params.table()
    assert rows and all(bool(r["source"]) != bool(r["assumption"]) for r in rows)
    cited = {r["name"]: r["value"] for r in rows if r["source"]}
    assert cited["span_of_control"] == 9.7
    assert cited["manager_coordination_share"] == 0.54
    assert cited["incident_minutes"] == 126 and cited["responders_per_incident"] == 1.2
    assert {"wake_up_minutes", "handoff_minutes", "decision_variability",
            "sync_every_working_hours"} <= set(params.assumptions())


@pytest.mark.parametrize(("old", "new", "field"), [
    ("    value: 0.15\n", "    value: 1.5\n", "parameters.decision_variability"),
    ("    value: 8\n", "    value: 8\n    oops: 1\n", "parameters.sync_every_working_hours"),
    ("    unit: minutes for a matter to pass", "    source: both\n    unit: minutes for a",
     "parameters.handoff_minutes"),
])
def test_a_bad_parameter_file_names_the_file_the_line_and_the_field(
        tmp_path: Path, old: str, new: str, field: str) -> None:
    text = (BUNDLED / "itops.yaml").read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_params(bad)
    err = caught.value
    assert err.file == str(bad) and err.field.startswith(field)
    key = field.split(".")[-1]
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1)
                if t.strip().startswith(key))
    assert err.line is not None and line <= err.line <= line + 8
    assert str(bad) in str(err)


# --- the models ---------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_results() -> None:
    params = load_params()

    def run(model: str, seed: int) -> tuple[list[tuple[str, bool, str]], list[float], str]:
        r = run_model(model, params, seed=seed, days=0.5, drain=3, load=1.0)
        # The AI-led latency adds the engine's measured milliseconds, which a loaded
        # machine stretches: latencies are compared to within 0.01 minute (0.6 s).
        return ([(o.case, o.latency is None, o.action) for o in r.outcomes],
                [o.latency for o in r.outcomes if o.latency is not None],
                str(r.ledger.get("head", "")))

    for model in ("human", "ai"):
        first, again = run(model, 7), run(model, 7)
        assert first[0] and first[0] == again[0] and first[2] == again[2]
        assert first[1] == pytest.approx(again[1], abs=0.01)
        assert run(model, 8)[0] != first[0]


def test_a_matter_past_the_responders_authority_climbs_the_reporting_line() -> None:
    config = tiny()
    judge = Judge(config)
    events = [Event(key="k1.down", type="service.down", entity="shop", time=at(10)),
              Event(key="k2.down", type="service.down", entity="batch", time=at(10))]
    work = workload_of(config, events, origin=START, days=1)
    verdicts = {c.situation.entity: judge.options(c.situation, at(10))[0] for c in work.cases}
    assert verdicts["shop"].verdict == "approval"  # restart-tier0-oncall in itops' Cedar
    assert verdicts["batch"].verdict == "autonomous"
    out = human(config, events)
    assert out["k1.down"].escalated and out["k1.down"].decided_by == "lead"
    assert not out["k2.down"].escalated
    assert out["k2.down"].decided_by in {"eng1", "eng2", "lead"}


def test_at_three_in_the_morning_only_a_severe_matter_wakes_someone() -> None:
    config = tiny()
    events = [Event(key="k1.down", type="service.down", entity="shop", time=at(2)),
              Event(key="k2.cpu", type="alert", entity="batch", time=at(2),
                    attrs={"metric": "cpu_util", "value": 0.95})]
    out = human(config, events)
    office_opens = 6 * 60  # 09:00 in Berlin is 08:00 UTC, six hours after 02:00 UTC
    assert out["k2.cpu"].severity == 2 and out["k2.cpu"].latency is not None
    assert out["k2.cpu"].latency >= office_opens
    assert out["k1.down"].severity == 0 and out["k1.down"].latency is not None
    assert out["k1.down"].latency < office_opens


def test_the_ai_model_runs_the_real_engine_and_its_ledger_verifies() -> None:
    config = load_config(scenario_path("itops"))
    params = load_params()
    from baton.sim.workload import build_workload

    work = build_workload(config, params, seed=7, days=1, load=1.0,
                          graph=ServiceGraph(config.org.services))
    model = AiModel(config, params, work, seed=7, drain_days=3)
    assert isinstance(model.engine, Engine)
    result = model.run()
    assert result.ledger_verified and result.decisions > len(work.cases) / 2
    # every decision is a ledger row, and so are the result of every action carried out,
    # each page of an escalation, the policy set in force and the outcome of every
    # executed decision whose effect window has ended
    kinds = Counter(json.loads(r.body).get("record") for r in model.store.ledger_rows())
    assert kinds["result"] > 0 and kinds["policies"] == 1 and kinds["outcome"] > 0
    assert result.ledger_rows == result.decisions + kinds["result"] + kinds["escalation"] \
        + kinds["policies"] + kinds["outcome"]
    recorded = {d["situation"] for d in model.store.all_decisions()}
    decided = [o for o in result.outcomes if o.action != "duplicate"]
    assert decided and all(o.case in recorded for o in decided)
    by_people = [o for o in result.outcomes if o.escalated and o.decided_by in config.org.person]
    assert by_people, "some escalation was answered by a person of the organisation"
    agents = {a.id for a in config.playbooks.agents}
    assert any(o.decided_by in agents and o.action not in ("none", "correlate")
               for o in result.outcomes)


def test_generated_organisations_keep_the_per_team_structure() -> None:
    base = load_config(scenario_path("itops"))
    config = scaled_config(base, 40, 9.7, 0.5)
    org = config.org
    assert len(org.teams) == 40 and {t.domain for t in org.teams} == set(base.org.domain)
    assert ServiceGraph(org.services).cycle() is None
    reports: dict[str, int] = {}
    for p in org.people:
        if p.reports_to:
            reports[p.reports_to] = reports.get(p.reports_to, 0) + 1
    assert all(org.person[t.lead].reports_to for t in org.teams)
    managers = [n for pid, n in reports.items() if org.person[pid].role in ("manager",
                                                                         "director")]
    assert max(managers) <= 10


# --- measures -----------------------------------------------------------------------------


def test_cost_slopes_are_fitted_on_log_log_axes() -> None:
    assert loglog_slope([(10, 300.0), (100, 30000.0), (1000, 3e6)]) == pytest.approx(2.0)
    assert loglog_slope([(10, 5.0), (100, 5.0), (1000, 5.0)]) == pytest.approx(0.0)
    assert loglog_slope([(10, 0.0), (100, 2.0), (1000, 20.0)]) == pytest.approx(1.0)
    points = [{"teams": n, "messages_per_event": 2.0 * n ** 0.5,
               "person_minutes_per_event": 7.0, "cpu_ms_per_event": 0.1} for n in (10, 1000)]
    slopes = _slopes(points)
    assert slopes["messages_per_event"] == pytest.approx(0.5)
    assert slopes["messages_total"] == pytest.approx(1.5)
    assert slopes["person_minutes_total"] == pytest.approx(1.0)


def test_capacity_is_where_breaches_cross_the_threshold() -> None:
    found = capacity([(1, 0.01), (2, 0.03), (4, 0.09)], 0.05)
    assert found["censored"] is None
    assert found["load"] == pytest.approx(2 ** (4 / 3), rel=1e-3)
    assert capacity([(1, 0.2), (2, 0.3)], 0.05)["censored"] == "below"
    assert capacity([(1, 0.01), (2, 0.02)], 0.05) == {"load": 2, "censored": "above"}


def test_consistency_counts_differing_actions_among_identical_situations() -> None:
    def o(sig: str, action: str) -> Outcome:
        return Outcome("c", "k", 1, 0.0, 1.0, action, False, signature=(sig,))

    found = inconsistency([o("a", "restart"), o("a", "restart"), o("a", "none"),
                           o("a", "restart"), o("b", "scale_out"), o("b", "scale_out"),
                           o("c", "x"), o("c", "duplicate")])
    assert found["situations"] == 6 and found["groups"] == 2  # c: alone once repeats go
    assert found["rate"] == pytest.approx(1 / 6, abs=1e-4)


# --- the command --------------------------------------------------------------------------


@pytest.mark.slow
def test_baton_simulate_quick_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["simulate", "--scenario", "itops", "--compare", "human",
                                      "--report", str(out), "--seed", "7", "--quick"])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "report.json").read_text())
    html = (out / "report.html").read_text()
    assert "<svg" in html and "Claims beside the measurements" in html
    assert data["latency_ratio"] > 1
    assert data["capacity_ratio"] > 0
    assert {"human", "ai", "improvement"} <= data["consistency"].keys()
    for model in ("human", "ai"):
        points = data["cost_vs_size"][model]
        assert len(points) >= 2
        assert {"teams", "messages_per_event", "person_minutes_per_event",
                "cpu_ms_per_event"} <= points[0].keys()
    assumptions = load_params().assumptions()
    varied = {(v["parameter"], v["factor"]) for v in data["sensitivity"]["variants"]}
    assert varied == {(n, f) for n in assumptions for f in (0.5, 1.5)}
    assert all(r["source"] or r["assumption"] for r in data["parameters"])
    assert data["ai_engine"]["verified"] is True
    assert len(data["claims"]) == 5


def test_an_unknown_comparison_is_refused() -> None:
    result = CliRunner().invoke(app, ["simulate", "--compare", "robots", "--quick"])
    assert result.exit_code == 2
    assert "--compare must be 'human'" in " ".join(result.output.split())
