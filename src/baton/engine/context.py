"""The facts governance sees for one proposal: budget, freeze, blast radius, local time."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from baton.model import Proposal, Situation
from baton.org.graph import ServiceGraph
from baton.org.model import Organisation

UNLIMITED = 10**12


class Budgets:
    """Spending per domain per organisation-local day."""

    def __init__(self, org: Organisation) -> None:
        self.org = org
        self.zone = ZoneInfo(org.timezone)
        self.spent: dict[tuple[str, date], int] = {}

    def copy(self) -> Budgets:
        """The same spending, kept apart from this one."""
        other = Budgets.__new__(Budgets)
        other.org, other.zone, other.spent = self.org, self.zone, dict(self.spent)
        return other

    def day(self, at: datetime) -> date:
        """The organisation-local date of `at`."""
        return at.astimezone(self.zone).date()

    def used(self, domain: str, at: datetime) -> int:
        """Spent today by `domain`."""
        return self.spent.get((domain, self.day(at)), 0)

    def left(self, domain: str, at: datetime) -> int | None:
        """Left today for `domain`, or None when it has no budget."""
        budget = self.org.budget.get(domain)
        return None if budget is None else budget.daily - self.used(domain, at)

    def spend(self, domain: str, amount: int, at: datetime) -> None:
        """Record spending."""
        if amount:
            key = (domain, self.day(at))
            self.spent[key] = self.spent.get(key, 0) + amount


def governance_context(proposal: Proposal, situation: Situation, *, org: Organisation,
                       graph: ServiceGraph, budgets: Budgets, now: datetime,
                       minutes_since_deploy: int) -> dict[str, Any]:
    """The Cedar context for one proposal (every value a Cedar Long, Bool or String)."""
    action = proposal.action
    service = org.service.get(action.resource)
    budget = org.budget.get(proposal.domain)
    used = budgets.used(proposal.domain, now)
    local = now.astimezone(budgets.zone)
    return {
        "amount": action.amount,
        "risk": proposal.risk,
        "confidence": round(proposal.confidence * 100),
        "blast_radius": graph.blast_radius(action.resource) if service else 0,
        "tier": service.tier if service else -1,
        "severity": situation.severity,
        "budget_daily": budget.daily if budget else -1,
        "budget_used": used,
        "budget_left": budget.daily - used if budget else UNLIMITED,
        "local_hour": local.hour,
        "weekday": local.weekday(),
        "freeze": org.frozen(proposal.domain, now) is not None,
        "minutes_since_deploy": minutes_since_deploy,
        "credential_leaked": bool(situation.facts.get("credential_leaked", False)),
        "domain": proposal.domain,
        "situation": situation.kind,
    }
