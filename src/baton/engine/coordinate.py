"""Coordinate: correlate situations along the dependency graph, and arbitrate conflicts."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from baton.config import Coordination
from baton.model import Action, Objectives, Proposal, Situation
from baton.org.graph import ServiceGraph

_SWEEP_EVERY = timedelta(minutes=1)
INCIDENT_KINDS = frozenset({"service_down", "service_degraded", "latency_regression"})


@dataclass
class Incident:
    """A root cause and the situations correlated to it."""

    id: str
    root: str  # the root-cause entity
    opened: datetime
    last_seen: datetime
    members: set[str] = field(default_factory=set)  # correlated entities
    situations: int = 1
    resolved: datetime | None = None
    events: list[str] = field(default_factory=list)  # keys of the events merged into it


@dataclass(frozen=True)
class Correlation:
    """What coordination makes of a new situation."""

    kind: str  # "new", "correlated" or "duplicate"
    incident: Incident | None = None
    absorbed: tuple[Incident, ...] = ()  # earlier incidents now known to share this root


@dataclass(frozen=True)
class Claim:
    """An action that holds a resource until `until`, with what its score is made of."""

    kind: str
    decision: str
    until: datetime
    score: float
    terms: tuple[float, float, int, int] | None = None  # minutes, cost, risk, impact
    why: str = ""  # set on a conflict: which kind of conflict it is

    def rescored(self, objectives: Objectives) -> Claim:
        """This claim scored under `objectives` (they may have changed since)."""
        if self.terms is None:
            return self
        minutes, cost, risk, impact = self.terms
        return replace(self, score=objectives.score(minutes=minutes, cost=cost, risk=risk,
                                                    customer_impact=impact))


class Coordinator:
    """Keeps open incidents and resource claims; decides correlation and conflicts."""

    def __init__(self, graph: ServiceGraph, settings: Coordination) -> None:
        self.graph = graph
        self.window = timedelta(minutes=settings.correlation_minutes)
        self.hold = timedelta(minutes=settings.conflict_minutes)
        self.exclusive = {frozenset(p) for p in settings.exclusive}
        self.holds = frozenset(settings.holds)
        self._contended = self.holds | {k for pair in self.exclusive for k in pair}
        self.open: dict[str, Incident] = {}  # incident id -> incident
        self.by_entity: dict[str, Incident] = {}  # root or member entity -> open incident
        self.by_root: dict[str, Incident] = {}  # root entity -> open incident
        self.closed = 0  # incidents closed so far (kept as a count: state stays flat)
        self.recent: dict[tuple[str, str], datetime] = {}  # (kind, entity) -> last decided
        self.claims: dict[str, list[Claim]] = {}
        self._swept: datetime | None = None

    def correlate(self, situation: Situation, now: datetime) -> Correlation:
        """Decide whether a situation is new, part of an open incident, or a repeat."""
        entity = situation.entity
        if situation.kind not in INCIDENT_KINDS:
            last = self.recent.get((situation.kind, entity))
            if last is not None and now - last < self.window:
                return Correlation("duplicate")
            self.recent[(situation.kind, entity)] = now
            return Correlation("new")
        seen = self.by_entity.get(entity)
        if seen is not None:
            seen.last_seen = now
            seen.situations += 1
            seen.events.extend(situation.event_ids)
            return Correlation("duplicate", seen)
        upstream = self.graph.upstream(entity)
        roots = [self.by_root[r] for r in upstream if r in self.by_root] \
            if len(upstream) < len(self.by_root) else \
            [i for i in self.by_root.values() if i.root in upstream]
        if roots:
            incident = min(roots, key=lambda i: (i.opened, i.id))
            incident.members.add(entity)
            self.by_entity[entity] = incident
            incident.last_seen = now
            incident.situations += 1
            incident.events.extend(situation.event_ids)
            return Correlation("correlated", incident)
        dependents = self.graph.dependents(entity)
        below = [self.by_root[d] for d in dependents if d in self.by_root] \
            if len(dependents) < len(self.by_root) else \
            [i for i in self.by_root.values() if i.root in dependents]
        absorbed = tuple(sorted(below, key=lambda i: i.id))
        incident = Incident(id=situation.id, root=entity, opened=now, last_seen=now)
        for old in absorbed:
            self._forget(old)
            incident.members |= old.members | {old.root}
            incident.situations += old.situations
            incident.events.extend(old.events)
        incident.events.extend(situation.event_ids)
        self.open[incident.id] = incident
        self.by_root[entity] = incident
        for member in {entity, *incident.members}:
            self.by_entity[member] = incident
        return Correlation("new", incident, absorbed)

    def _forget(self, incident: Incident) -> None:
        del self.open[incident.id]
        self.by_root.pop(incident.root, None)
        for member in {incident.root, *incident.members}:
            if self.by_entity.get(member) is incident:
                del self.by_entity[member]

    def resolve(self, entity: str, now: datetime) -> Incident | None:
        """Close the open incident rooted at `entity`, if any."""
        incident = self.by_root.get(entity)
        return None if incident is None else self._close(incident, now)

    def sweep(self, now: datetime) -> list[Incident]:
        """Close incidents quiet for a whole correlation window (resolved at last sighting).

        Checked at most once per virtual minute; an incident closes at its last sighting
        whenever the check runs, so the result does not depend on how often it runs.
        """
        if self._swept is not None and now - self._swept < _SWEEP_EVERY:
            return []
        self._swept = now
        quiet = [i for i in self.open.values() if now - i.last_seen >= self.window]
        return [self._close(i, i.last_seen) for i in quiet]

    def _close(self, incident: Incident, at: datetime) -> Incident:
        self._forget(incident)
        incident.resolved = at
        self.closed += 1
        return incident

    def conflict(self, action: Action, now: datetime,
                 objectives: Objectives | None = None) -> Claim | None:
        """The strongest live claim on the same resource that this action conflicts with.

        Two kinds of conflict: mutually exclusive actions (a pair in `exclusive`, e.g.
        scale-out vs scale-in, deploy vs a deploy hold), and two actions that each take the
        resource (kinds in `holds`) in overlapping windows. The claim comes back scored
        under `objectives`, so a change of objectives changes who wins.
        """
        found: Claim | None = None
        for claim in self.claims.get(action.resource, ()):
            if claim.until <= now:
                continue
            if frozenset((claim.kind, action.kind)) in self.exclusive:
                why = f"{claim.kind} and {action.kind} exclude each other"
            elif claim.kind in self.holds and action.kind in self.holds:
                why = (f"{claim.kind} holds {action.resource} until "
                       f"{claim.until.isoformat()}: overlapping windows")
            else:
                continue
            scored = replace(claim.rescored(objectives) if objectives else claim, why=why)
            if found is None or scored.score > found.score:
                found = scored
        return found

    def contended(self, kind: str) -> bool:
        """True when actions of `kind` can conflict with others (so they claim resources)."""
        return kind in self._contended

    def claim(self, action: Action, decision: str, score: float, now: datetime,
              proposal: Proposal | None = None) -> None:
        """Hold the resource for this action for the conflict window."""
        live = [c for c in self.claims.get(action.resource, ()) if c.until > now]
        terms = None if proposal is None else (proposal.minutes, proposal.cost,
                                               proposal.risk, proposal.customer_impact)
        live.append(Claim(action.kind, decision, now + self.hold, score, terms))
        self.claims[action.resource] = live
