"""Outside agents inside the engine: their proposals become situations, their limits cap
the verdicts, and what they did lately is counted for the policies.

Everything here is a fold over the event log in engine time, so a replay gives the same
counts, the same verdicts and the same ledger.
"""

from __future__ import annotations

from collections import deque
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from baton.model import Action, Decision, Event, Proposal, Situation, Verdict
from baton.model.decisions import VerdictKind
from baton.org.agents import AgentPrincipal
from baton.org.model import Organisation
from baton.store.port import Step

if TYPE_CHECKING:
    from baton.engine.act import Actor

PROPOSAL = "agent.proposal"
CALL = "agent.call"
DETECTOR = "agent"
#: the event types outside agents cause, with the attributes each must carry
EVENT_TYPES: dict[str, tuple[str, ...]] = {PROPOSAL: ("agent", "id", "kind", "resource"),
                                           CALL: ("agent", "tool")}
#: the action a person takes over with when an agent gave no usable proposal
HANDOFF = "investigate"
HOUR = timedelta(hours=1)
#: what an LLM agent's proposal carries about how it was made (kept in its decision record)
LLM_FACTS = ("model", "prompt_digest", "response", "response_digest")
LEVELS = ("observe", "shadow", "approve", "autonomous")
_NUMBERS = (("cost", float, 0.0), ("risk", int, 0), ("minutes", float, 5.0),
            ("customer_impact", int, 0), ("confidence", float, 1.0))


def situation_id(agent: str, proposal: str) -> str:
    """The situation an agent's proposal opens."""
    return f"{agent}/{proposal}"


def event_key(agent: str, proposal: str) -> str:
    """The idempotency key of an agent's proposal event (one proposal, one event)."""
    return f"{PROPOSAL}:{agent}:{proposal}"


class OutsideAgent:
    """An agent whose proposals come from outside, one per `agent.proposal` event."""

    def __init__(self, spec: AgentPrincipal) -> None:
        self.id = spec.id
        self.domain = spec.domain
        self.spec = spec

    def handles(self, kind: str) -> bool:
        """Never chosen for a detector's situation: it proposes only when it asks."""
        return False

    def propose(self, situation: Situation) -> list[Proposal]:
        """The one proposal its event carried."""
        f = situation.facts
        action = Action.model_construct(
            kind=str(f["kind"]), resource=str(f["resource"]),
            resource_type=str(f.get("resource_type") or "Service"),
            params=dict(f.get("params") or {}), amount=int(f.get("amount") or 0),
            compensation=None)
        numbers: dict[str, Any] = {name: kind(f.get(name, default))
                                   for name, kind, default in _NUMBERS}
        return [Proposal.model_construct(
            id=f"{situation.id}/0", agent=self.id, domain=self.domain,
            situation=situation.id, action=action,
            expected_effect=str(f.get("expected_effect", "")),
            rationale=str(f.get("rationale", "")), evidence=dict(f.get("evidence") or {}),
            score=0.0, after=[], **numbers)]


class Roster:
    """The outside agents of the organisation and what the engine remembers about them."""

    def __init__(self, org: Organisation) -> None:
        self.agents = {a.id: OutsideAgent(a) for a in org.agents}
        self.zone = ZoneInfo(org.timezone)
        self.killed: dict[str, bool] = {}
        self._proposals: dict[str, deque[datetime]] = {}
        self._by_agent: dict[tuple[str, str], deque[datetime]] = {}  # (agent, resource)
        self._by_kind: dict[tuple[str, str], deque[datetime]] = {}  # (kind, resource)
        self._spent: dict[tuple[str, date], int] = {}

    # -- events -------------------------------------------------------------------------

    def handle(self, event: Event, now: datetime, step: Step, actor: Actor) -> list[Situation]:
        """Fold in one event of an outside agent; the situations it raises."""
        a = event.attrs
        agent = self.agents.get(str(a.get("agent")))
        if agent is None:
            raise ValueError(f"agent {a.get('agent')!r} is not an agent of the organisation")
        if event.type == "baton.kill_switch":
            self._kill(agent.id, event, now, step, actor)
            return []
        if event.type == CALL:
            self._call(agent, event, now, step, actor)
            return []
        times = self._proposals.setdefault(agent.id, deque())
        times.append(now)
        window = timedelta(minutes=agent.spec.rate_limit.minutes)
        while times and times[0] <= now - max(window, HOUR):
            times.popleft()
        facts = {k: v for k, v in a.items() if k not in ("agent", "id", "severity")}
        facts["proposed_by"] = agent.id
        severity = a.get("severity", 2)
        return [Situation.model_construct(
            id=situation_id(agent.id, str(a["id"])), kind=PROPOSAL,
            entity=str(a["resource"]), domain=agent.domain, detector=DETECTOR,
            severity=severity if isinstance(severity, int) and 0 <= severity <= 4 else 2,
            time=now, event_ids=[event.key], facts=facts, root=None)]

    def _call(self, agent: OutsideAgent, event: Event, now: datetime, step: Step,
              actor: Actor) -> None:
        a = event.attrs
        tool = str(a["tool"])
        actor.record(Decision.model_construct(
            id=actor.e.ledger.next_id(basis=event.key), time=now, event=event.key,
            situation="-", situation_kind="agent_call", entity=tool, domain=agent.domain,
            decided_by=agent.id, chosen=None, action=None, proposals=[], verdict=None,
            mode="agent", outcome=f"answered {tool}", latency_s=0.0, modification=None,
            plan=None, rationale=f"{agent.id} called {tool}",
            context={"arguments": a.get("arguments", {}),
                     "answer_digest": str(a.get("answer_digest", ""))}), step)

    def _kill(self, agent: str, event: Event, now: datetime, step: Step, actor: Actor) -> None:
        enabled = bool(event.attrs["enabled"])
        self.killed[agent] = enabled
        actor.record(Decision.model_construct(
            id=actor.e.ledger.next_id(basis=event.type), time=now, event=event.key,
            situation="-", situation_kind="kill_switch", entity=f"agent {agent}",
            domain=self.agents[agent].domain, decided_by=str(event.attrs.get("by", "operator")),
            chosen=None, action=None, proposals=[], verdict=None, mode="human",
            outcome=f"kill switch {'on' if enabled else 'off'} (agent {agent})",
            rationale=str(event.attrs.get("comment", "")), context={}, latency_s=0.0,
            modification=None, plan=None), step)

    # -- governance ---------------------------------------------------------------------

    def agent_for(self, situation: Situation) -> OutsideAgent | None:
        """The agent whose proposal opened `situation`, if an outside agent's did."""
        if situation.detector != DETECTOR:
            return None
        return self.agents.get(str(situation.facts.get("proposed_by")))

    def level(self, agent: str, level: str) -> str:
        """The autonomy level for `agent`: the lower of `level` and the agent's cap."""
        found = self.agents.get(agent)
        if found is None or level not in LEVELS:
            return level
        return min(level, found.spec.cap, key=LEVELS.index)

    def counts(self, agent: str, action: Action, now: datetime) -> dict[str, int]:
        """What agents did lately, for the policies: this agent's actions on this resource
        in the last hour, actions of this kind on it by any agent, and this agent's
        proposals in the last hour."""
        cutoff = now - HOUR
        mine = self._by_agent.get((agent, action.resource), ())
        kind = self._by_kind.get((action.kind, action.resource), ())
        asked = self._proposals.get(agent, ())
        return {"agent_actions_hour": sum(1 for t in mine if t > cutoff),
                "kind_actions_hour": sum(1 for t in kind if t > cutoff),
                "agent_proposals_hour": sum(1 for t in asked if t > cutoff)}

    def context(self, proposal: Proposal, situation: Situation,
                now: datetime) -> dict[str, Any]:
        """What the governance context adds for a proposal: the counts, and for an LLM
        agent's proposal the model, the prompt's digest and the response it gave."""
        found = self.counts(proposal.agent, proposal.action, now)
        llm = situation.facts.get("llm") if situation.detector == DETECTOR else None
        if isinstance(llm, dict):
            return {**found, **{f"llm_{k}": str(llm.get(k, "")) for k in LLM_FACTS}}
        return found

    def limit(self, agent: str, proposal: Proposal, verdict: Verdict, situation: Situation,
              now: datetime) -> Verdict:
        """The verdict after the agent's own limits: the kinds it may propose, its rate
        limit, its kill switch and its budget. Baton's own agents pass unchanged."""
        found = self.agents.get(agent)
        if found is None:
            return verdict
        spec, kind = found.spec, proposal.action.kind
        failure = situation.facts.get("failure")
        if failure:
            return Verdict(kind=VerdictKind.APPROVAL, approver="oncall",
                           capped_by="agent:no-proposal",
                           reason=f"{agent} gave no usable proposal ({failure}): a person "
                                  "decides")
        if kind not in spec.actions:
            return Verdict(kind=VerdictKind.DENIED, policy_ids=(f"agent:{agent}:actions",),
                           reason=f"{agent} may propose {', '.join(spec.actions)}; "
                                  f"{kind!r} is not among them")
        window = timedelta(minutes=spec.rate_limit.minutes)
        asked = sum(1 for t in self._proposals.get(agent, ()) if t > now - window)
        if asked > spec.rate_limit.count:
            return Verdict(kind=VerdictKind.DENIED, policy_ids=(f"agent:{agent}:rate_limit",),
                           reason=f"{agent} made {asked} proposals in "
                                  f"{spec.rate_limit.minutes:g} minutes; its rate limit is "
                                  f"{spec.rate_limit.count}")
        if verdict.kind is not VerdictKind.AUTONOMOUS:
            return verdict
        why = None
        if self.killed.get(agent):
            why = (f"kill-switch:agent:{agent}", f"the kill switch of {agent} is on")
        elif spec.budget is not None and proposal.action.amount > 0:
            left = spec.budget - self._spent.get((agent, now.astimezone(self.zone).date()), 0)
            if proposal.action.amount > left:
                why = ("agent-budget", f"amount {proposal.action.amount} exceeds the {left} "
                                       f"left today of {agent}'s budget")
        if why is None:
            return verdict
        return Verdict(kind=VerdictKind.APPROVAL, policy_ids=verdict.policy_ids,
                       approver="oncall", reason=f"{verdict.reason}; {why[1]}: escalated",
                       capped_by=why[0])

    def note(self, agent: str, action: Action, now: datetime) -> None:
        """An action was dispatched for `agent` (any agent, Baton's own too)."""
        cutoff = now - HOUR
        for table, key in ((self._by_agent, (agent, action.resource)),
                           (self._by_kind, (action.kind, action.resource))):
            times = table.setdefault(key, deque())
            times.append(now)
            while times and times[0] <= cutoff:
                times.popleft()
        if agent in self.agents and action.amount:
            day = (agent, now.astimezone(self.zone).date())
            self._spent[day] = self._spent.get(day, 0) + action.amount
