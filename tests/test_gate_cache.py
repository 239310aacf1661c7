"""The gate's answer cache: a question Cedar answered once is not asked again."""

from __future__ import annotations

from pathlib import Path

import pytest

from baton.bench import bench_config, bench_events
from baton.config import Config
from baton.connectors import build_connectors
from baton.engine.pipeline import Engine
from baton.governance.gate import Gate, GateRequest, entities_for
from baton.governance.policies import PolicyBook
from baton.model import Verdict
from baton.store import open_store

READS_RESOURCE = """\
@id("restart-not-db") @verdict("autonomous")
permit (principal, action == Action::"restart", resource)
when { context.tier > 0 && resource != Service::"db" };
"""


def _gate(starter: Config, extra: list[tuple[str, str]]) -> Gate:
    book = PolicyBook([*starter.policies, *extra])
    return Gate(book, entities_for(starter.org, {"reliability-agent": "reliability"}))


def _restart(service: str, tier: int) -> GateRequest:
    return GateRequest("reliability-agent", "reliability", "restart", service, "Service",
                       {"tier": tier, "freeze": False})


def test_a_policy_that_ignores_the_resource_is_asked_once_per_context(starter: Config) -> None:
    gate = _gate(starter, [])
    services = [s.id for s in starter.org.services]
    cached = gate.judge([_restart(s, 2) for s in services])
    assert gate.evaluated == 1
    assert cached == Gate.evaluate(gate, [_restart(s, 2) for s in services])


def test_a_policy_that_reads_the_resource_is_asked_per_resource(starter: Config) -> None:
    gate = _gate(starter, [("extra.cedar", READS_RESOURCE)])
    services = ["db", *(s.id for s in starter.org.services if s.id != "db")][:3]
    verdicts = gate.judge([_restart(s, 2) for s in services])
    assert gate.evaluated == len(services)
    assert verdicts == Gate.evaluate(gate, [_restart(s, 2) for s in services])


def _bench_run(tmp_path: Path, name: str, *, foresee: bool, budget: int) -> Engine:
    config = bench_config(50)
    config = config.model_copy(update={"org": config.org.model_copy(update={"budgets": [
        b.model_copy(update={"daily": budget}) for b in config.org.budgets]})})
    store = open_store(tmp_path / f"{name}.db")
    engine = Engine(config, store=store, connectors=build_connectors(config, store=store))
    if not foresee:
        engine.actor.foresee = lambda events: 0  # type: ignore[method-assign]
    ask = engine.gate.evaluate
    calls: list[int] = []

    def counted(requests: list[GateRequest]) -> list[Verdict]:
        calls.append(len(requests))
        return ask(requests)

    engine.gate.evaluate = counted  # type: ignore[method-assign]
    engine.cedar_calls = calls  # type: ignore[attr-defined]
    engine.ingest(bench_events(1500, 50, seed=4))
    engine.process_pending(batch=500)
    return engine


@pytest.mark.parametrize("budget", [10**9, 2000], ids=["ample-budget", "budget-runs-out"])
def test_questions_foreseen_for_a_batch_go_to_cedar_together_and_change_no_verdict(
        tmp_path: Path, budget: int) -> None:
    # Every scale-out asks with the budget left after the ones before it, so each question
    # is new; asked ahead for the whole batch, they go to Cedar in a few calls, and the
    # ledger is the one that asking event by event gives.
    ahead = _bench_run(tmp_path, "ahead", foresee=True, budget=budget)
    one_by_one = _bench_run(tmp_path, "single", foresee=False, budget=budget)
    assert ahead.store.ledger_head() == one_by_one.store.ledger_head()
    assert ahead.stats == one_by_one.stats
    for engine in (ahead, one_by_one):
        engine.close()
        engine.store.close()
    batched: list[int] = ahead.cedar_calls  # type: ignore[attr-defined]
    single: list[int] = one_by_one.cedar_calls  # type: ignore[attr-defined]
    print(f"foreseen {ahead.gate.foreseen} of {ahead.gate.evaluated} questions, "
          f"{len(batched)} Cedar calls against {len(single)}")
    assert ahead.gate.foreseen > 0.9 * ahead.gate.evaluated
    assert one_by_one.gate.foreseen == 0
    assert sum(single) == one_by_one.gate.evaluated <= ahead.gate.evaluated
    assert len(batched) * 5 < len(single)
