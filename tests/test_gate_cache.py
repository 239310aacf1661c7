"""The gate's answer cache: a question Cedar answered once is not asked again."""

from __future__ import annotations

from baton.config import Config
from baton.governance.gate import Gate, GateRequest, entities_for
from baton.governance.policies import PolicyBook

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
