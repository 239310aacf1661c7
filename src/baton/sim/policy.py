"""What the policies say about a situation, asked for a person of the human-led model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from baton.config import Config
from baton.engine.context import Budgets, governance_context
from baton.engine.decide import PlaybookAgent
from baton.governance.gate import Gate, GateRequest, cap, entities_for
from baton.governance.policies import PolicyBook
from baton.model import Situation, VerdictKind
from baton.org.graph import ServiceGraph


@dataclass(frozen=True)
class Option:
    """One candidate action with the verdict the policies give it now."""

    action: str  # action kind
    verdict: str  # autonomous, approval or denied
    approver: str | None
    amount: int
    domain: str


NONE = Option("none", "autonomous", None, 0, "")


class Judge:
    """Ranks a situation's candidate actions as the engine would and judges each with Cedar."""

    def __init__(self, config: Config, graph: ServiceGraph | None = None,
                 gate: Gate | None = None) -> None:
        self.config = config
        self.org = config.org
        self.agents = [PlaybookAgent(a) for a in config.playbooks.agents]
        self.graph = graph or ServiceGraph(config.org.services)
        self.gate = gate or Gate(PolicyBook(config.policies), entities_for(
            config.org, {a.id: a.domain for a in self.agents}))
        self.budgets = Budgets(config.org)

    def _agent(self, s: Situation) -> PlaybookAgent | None:
        fallback = None
        for agent in self.agents:
            if agent.handles(s.kind):
                if agent.domain == s.domain:
                    return agent
                fallback = fallback or agent
        return fallback

    def options(self, s: Situation, at: datetime) -> list[Option]:
        """Candidates best first (by the objectives), each with its verdict at `at`."""
        agent = self._agent(s)
        if agent is None:
            return []
        settings = self.config.settings
        proposals = agent.propose(s)
        for p in proposals:
            p.score = settings.objectives.score(minutes=p.minutes, cost=p.cost, risk=p.risk,
                                                customer_impact=p.customer_impact)
        since = s.facts.get("minutes_since_deploy", -1)
        requests = [GateRequest(agent.id, p.domain, p.action.kind, p.action.resource,
                                p.action.resource_type, governance_context(
                                    p, s, org=self.org, graph=self.graph, budgets=self.budgets,
                                    now=at, minutes_since_deploy=int(since)))
                    for p in proposals]
        verdicts = self.gate.judge(requests)
        ranked = sorted(range(len(proposals)), key=lambda i: (-proposals[i].score, i))
        out: list[Option] = []
        for i in ranked:
            p, v = proposals[i], verdicts[i]
            v = cap(v, level=settings.autonomy.level(p.domain, p.action.kind), killed=None,
                    amount=p.action.amount, budget_left=self.budgets.left(p.domain, at))
            out.append(Option(p.action.kind, v.kind.value, v.approver, p.action.amount,
                              p.domain))
        return out

    @staticmethod
    def best(options: list[Option]) -> Option:
        """The policy-best option: the best one not denied; all denied: nothing runs."""
        for o in options:
            if o.verdict != VerdictKind.DENIED.value:
                return o
        return Option("none", "denied", None, 0, options[0].domain) if options else NONE

    def spend(self, option: Option, at: datetime) -> None:
        """Record the budget an executed option spends."""
        if option.amount and option.domain:
            self.budgets.spend(option.domain, option.amount, at)
