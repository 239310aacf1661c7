"""Dispatch: each tick, the work waiting for people is assigned in one optimal batch.

Work comes from the shared picture (tickets as they open, incident response as incidents
open). Once per virtual minute the waiting items are solved with `assign_optimal`:
skills, free capacity, current load, each person's working hours in their own time zone,
and fairness of off-hours pages. Items that name an owning team and no skill only
compete for that team's people, so each team is its own small problem and the cost per
tick grows with the work waiting, not with the size of the organisation. Every batch that
assigns something is one ledger record with each assignment and its reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from baton.config import SlaTimerDetector
from baton.engine.assign import Assignment, WorkItem, assign_optimal
from baton.engine.picture import WorkState
from baton.model import Decision, Event
from baton.org.model import Person
from baton.store.port import Step

if TYPE_CHECKING:
    from baton.engine.pipeline import Engine

TICK = timedelta(minutes=1)


class Dispatcher:
    """Assigns waiting work to people in batches, once per virtual minute."""

    def __init__(self, engine: Engine) -> None:
        self.e = engine
        settings = engine.config.settings.coordination
        self.minutes = dict(settings.work_minutes)
        self.by_team: dict[str, list[Person]] = {}
        for p in sorted(engine.config.org.people, key=lambda p: p.id):
            self.by_team.setdefault(p.team, []).append(p)
        self.everyone = sorted(engine.config.org.people, key=lambda p: p.id)
        self._last: datetime | None = None
        # the WorkItem built for each waiting WorkState (its fields never change once open)
        self._items: dict[str, tuple[WorkState, WorkItem]] = {}
        opened = next((d for d in engine.config.settings.detectors
                       if isinstance(d, SlaTimerDetector) and d.start == "ticket.opened"), None)
        if opened is not None:
            engine.picture.ticket_sla = lambda event: _sla_minutes(opened, event)

    def incident_opened(self, incident: str, root: str, severity: int, at: datetime) -> None:
        """Incident response is work for the root's owning team."""
        service = self.e.config.org.service.get(root)
        urgent = severity <= self.e.config.settings.escalation.urgent_severity
        sla = self.e.config.settings.escalation.sla_minutes.get(severity, 60.0)
        self.e.picture.open_work(WorkState(
            f"incident:{incident}", "incident", service.team if service else None, at,
            due=at + timedelta(minutes=sla * 4), urgent=urgent))

    def next_tick(self) -> datetime | None:
        """When waiting work is next assigned (None: at the next event)."""
        return None if self._last is None else self._last + TICK

    def tick(self, now: datetime, step: Step) -> None:
        """Assign the waiting work, at most once per virtual minute."""
        if self._last is not None and now - self._last < TICK:
            return
        self._last = now
        # assign_optimal orders the items itself, so the picture's sort is not needed here
        waiting = [w for w in self.e.picture.work.values() if w.person is None]
        if not waiting:
            return
        groups: dict[str | None, list[WorkItem]] = {}
        known, self._items = self._items, {}
        for w in waiting:
            cached = known.get(w.id)
            if cached is not None and cached[0] is w:
                item = cached[1]
            else:
                item = WorkItem(
                    id=w.id, kind=w.kind, team=w.team, skill=None, created=w.opened,
                    due=w.due or w.opened + timedelta(hours=4),
                    minutes=self.minutes.get(w.kind, 30.0), urgent=w.urgent)
            self._items[w.id] = (w, item)
            groups.setdefault(w.team, []).append(item)
        pages = self.e.stats.off_hours_pages
        done: list[Assignment] = []
        for team in sorted(groups, key=lambda t: t or ""):
            people = self.by_team.get(team, []) if team is not None else self.everyone
            for a in assign_optimal(groups[team], people, load=self.e.picture.load,
                                    off_hours_pages=pages, now=now, assigned_only=True):
                if a.person is None:
                    continue
                done.append(a)
                self.e.picture.assign(a.item, a.person)
                self.e.stats.messages += 1  # the person is told
                if a.off_hours:
                    pages[a.person] = pages.get(a.person, 0) + 1
        if done:
            self._record(done, now, step)

    def _record(self, done: list[Assignment], now: datetime, step: Step) -> None:
        paged = sum(a.off_hours for a in done)
        self.e.actor.record(Decision.model_construct(
            id=self.e.ledger.next_id(basis="assignment"), time=now, event="-", situation="-",
            situation_kind="assignment", entity=f"{len(done)} items", domain="*",
            decided_by="coordinator", chosen=None, action=None, proposals=[], verdict=None,
            mode="autonomous", outcome=f"assigned {len(done)}",
            rationale=(f"{len(done)} waiting items assigned in one optimal batch over skills, "
                       f"free capacity, load and working hours; {paged} off-hours pages"),
            context={"assignments": [{"item": a.item, "person": a.person,
                                      "off_hours": a.off_hours, "reason": a.reason}
                                     for a in done]},
            latency_s=0.0, modification=None, plan=None), step)


def _sla_minutes(timer: SlaTimerDetector, event: Event) -> float:
    if timer.minutes_by is not None:
        key = str(event.attrs.get(timer.minutes_by))
        return timer.minutes_map.get(key, timer.minutes)
    return timer.minutes
