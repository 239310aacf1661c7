"""The shared operational picture: the one current state every agent and the coordinator read.

Services (up, degraded or down, since when, in which incident), people (open work, pages
taken off hours), work waiting for people, and budgets. It changes incrementally, once per
event or decision, and every read is a dictionary lookup, so no domain acts on a stale or
partial view and reading it costs the same at any organisation size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from baton.engine.assign import Kind
from baton.engine.context import Budgets
from baton.model import Event
from baton.org.model import Organisation


@dataclass
class ServiceState:
    """What is known about one service now."""

    status: str = "up"  # up, degraded or down
    since: datetime | None = None
    incident: str | None = None  # the open incident it is part of
    version: str | None = None


@dataclass
class WorkState:
    """One piece of work that needs a person."""

    id: str
    kind: Kind  # ticket, incident, approval
    team: str | None
    opened: datetime
    due: datetime | None = None
    person: str | None = None  # assigned to
    urgent: bool = False  # may page someone outside their working hours


@dataclass
class Picture:
    """Current state of entities, updated as events and decisions arrive."""

    org: Organisation
    budgets: Budgets
    services: dict[str, ServiceState] = field(default_factory=dict)
    work: dict[str, WorkState] = field(default_factory=dict)
    load: dict[str, int] = field(default_factory=dict)  # person -> open work assigned
    version: int = 0  # bumped on every change
    # minutes a ticket may take, from its opening event (the SLA timers of the config)
    ticket_sla: Callable[[Event], float] = lambda event: 240.0
    urgent_tickets: frozenset[str] = frozenset({"P1"})

    def service(self, sid: str) -> ServiceState:
        """The state of one service (up and unknown until something is heard)."""
        found = self.services.get(sid)
        if found is None:
            found = self.services[sid] = ServiceState()
        return found

    def observe(self, event: Event) -> None:
        """Take in what one event says about services and work."""
        kind, entity, at = event.type, event.entity, event.time
        if kind == "service.down":
            self._status(entity, "down", at)
        elif kind == "service.recovered":
            self._status(entity, "up", at)
        elif kind == "deploy":
            self.service(entity).version = str(event.attrs.get("version"))
            self.version += 1
        elif kind == "ticket.opened":
            team = event.attrs.get("team")
            self.open_work(WorkState(
                entity, "ticket", str(team) if team else None, at,
                due=at + timedelta(minutes=self.ticket_sla(event)),
                urgent=str(event.attrs.get("priority")) in self.urgent_tickets))
        elif kind == "ticket.resolved":
            self.close_work(entity)

    def _status(self, sid: str, status: str, at: datetime) -> None:
        state = self.service(sid)
        if state.status != status:
            state.status, state.since = status, at
            self.version += 1

    def incident_opened(self, incident: str, root: str, members: set[str],
                        at: datetime) -> None:
        """Mark the root and its correlated members as part of `incident`."""
        for sid in (root, *sorted(members)):
            state = self.service(sid)
            state.incident = incident
            if sid != root and state.status == "up":
                state.status, state.since = "degraded", at
        self.version += 1

    def incident_member(self, incident: str, sid: str, at: datetime) -> None:
        """A dependent joined an open incident."""
        state = self.service(sid)
        state.incident = incident
        if state.status == "up":
            state.status, state.since = "degraded", at
        self.version += 1

    def incident_closed(self, incident: str, root: str, members: set[str],
                        at: datetime) -> None:
        """The incident is over: its services are up again unless they are down."""
        for sid in (root, *sorted(members)):
            state = self.service(sid)
            if state.incident == incident:
                state.incident = None
                if state.status == "degraded" or sid == root:
                    state.status, state.since = "up", at
        self.version += 1

    def open_work(self, work: WorkState) -> None:
        """Work arrived that needs a person."""
        if work.id not in self.work:
            self.work[work.id] = work
            self.version += 1

    def assign(self, work_id: str, person: str) -> None:
        """A person took on a piece of work."""
        work = self.work.get(work_id)
        if work is None or work.person == person:
            return
        if work.person is not None:
            self.load[work.person] -= 1
        work.person = person
        self.load[person] = self.load.get(person, 0) + 1
        self.version += 1

    def close_work(self, work_id: str) -> None:
        """The work is done."""
        work = self.work.pop(work_id, None)
        if work is None:
            return
        if work.person is not None:
            self.load[work.person] -= 1
        self.version += 1

    def waiting(self) -> list[WorkState]:
        """Work nobody has taken on yet, oldest first."""
        return sorted((w for w in self.work.values() if w.person is None),
                      key=lambda w: (w.opened, w.id))

    def snapshot(self, at: datetime, *, limit: int = 100) -> dict[str, Any]:
        """What the API and the dashboard show: everything that is not plainly fine."""
        unwell = sorted((sid, s) for sid, s in self.services.items() if s.status != "up")
        teams: dict[str, int] = {}
        for w in self.work.values():
            teams[w.team or "-"] = teams.get(w.team or "-", 0) + 1
        busy = sorted(((p, n) for p, n in self.load.items() if n), key=lambda x: (-x[1], x[0]))
        return {
            "version": self.version,
            "services": {"total": len(self.org.services), "not_up": len(unwell),
                         "list": [{"id": sid, "status": s.status, "incident": s.incident,
                                   "since": s.since.isoformat() if s.since else None}
                                  for sid, s in unwell[:limit]]},
            "work": {"open": len(self.work), "waiting": sum(
                1 for w in self.work.values() if w.person is None), "by_team": dict(
                sorted(teams.items()))},
            "people": {"busy": len(busy), "load": dict(busy[:limit])},
            "budgets": {b.domain: {"daily": b.daily, "used": self.budgets.used(b.domain, at),
                                   "left": self.budgets.left(b.domain, at)}
                        for b in self.org.budgets},
        }
