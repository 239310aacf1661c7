"""People in simulated time: working hours per time zone, paging, queues, manager time."""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Generator
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import simpy

from baton.org.model import Organisation, Person
from baton.sim.params import SimParams

MINUTE = 60.0
Proc = Generator[simpy.Event, Any, Any]


def minutes_between(origin: datetime, at: datetime) -> float:
    """Minutes from `origin` to `at`."""
    return (at - origin).total_seconds() / MINUTE


class Schedule:
    """One person's working windows as simulation minutes, with cumulative working time."""

    CHUNK_DAYS = 28

    def __init__(self, person: Person, origin: datetime) -> None:
        self.zone = ZoneInfo(person.timezone)
        start_s, end_s = person.working_hours.split("-")
        self.start, self.end = time.fromisoformat(start_s.strip()), time.fromisoformat(
            end_s.strip())
        self.workdays = set(person.workdays)
        self.origin = origin
        self.next_day = origin.astimezone(self.zone).date() - timedelta(days=1)
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.cum: list[float] = [0.0]  # working minutes before window i
        self._extend()

    def _extend(self) -> None:
        for _ in range(self.CHUNK_DAYS):
            day = self.next_day
            self.next_day = day + timedelta(days=1)
            if day.weekday() not in self.workdays:
                continue
            a = datetime.combine(day, self.start, self.zone)
            b = datetime.combine(day if self.end > self.start else day + timedelta(days=1),
                                 self.end, self.zone)
            self.starts.append(minutes_between(self.origin, a))
            self.ends.append(minutes_between(self.origin, b))
            self.cum.append(self.cum[-1] + self.ends[-1] - self.starts[-1])
        if not self.starts:
            self.starts.append(math.inf)
            self.ends.append(math.inf)
            self.cum.append(self.cum[-1])

    def _cover(self, m: float) -> None:
        while self.ends[-1] <= m and math.isfinite(self.ends[-1]):
            self._extend()

    def working(self, m: float) -> bool:
        """True when minute `m` falls in a working window."""
        self._cover(m)
        i = bisect.bisect_right(self.starts, m) - 1
        return i >= 0 and m < self.ends[i]

    def next_start(self, m: float) -> float:
        """`m` itself when working then, else the start of the next working window."""
        self._cover(m)
        i = bisect.bisect_right(self.starts, m) - 1
        if i >= 0 and m < self.ends[i]:
            return m
        return self.starts[i + 1] if i + 1 < len(self.starts) else math.inf

    def worked(self, m: float) -> float:
        """Working minutes from the first window up to minute `m`."""
        self._cover(m)
        i = bisect.bisect_right(self.starts, m) - 1
        if i < 0:
            return 0.0
        return self.cum[i] + min(m, self.ends[i]) - self.starts[i]

    def at_worked(self, w: float) -> float:
        """The minute at which cumulative working time reaches `w`."""
        while self.cum[-1] <= w and math.isfinite(self.ends[-1]):
            self._extend()
        i = min(max(0, bisect.bisect_right(self.cum, w) - 1), len(self.starts) - 1)
        return self.starts[i] + (w - self.cum[i])


class People:
    """Everyone of an organisation in one SimPy environment: reachability and busy time."""

    def __init__(self, env: simpy.Environment, org: Organisation, params: SimParams,
                 origin: datetime) -> None:
        self.env, self.org, self.params, self.origin = env, org, params, origin
        self._schedules: dict[str, Schedule] = {}
        self._desks: dict[str, simpy.PriorityResource] = {}
        self.managers = {p.reports_to for p in org.people if p.reports_to}
        self.busy_minutes: dict[str, float] = {}

    def schedule(self, pid: str) -> Schedule:
        """The person's working windows."""
        found = self._schedules.get(pid)
        if found is None:
            found = self._schedules[pid] = Schedule(self.org.person[pid], self.origin)
        return found

    def desk(self, pid: str) -> simpy.PriorityResource:
        """The person's attention: as many matters at once as their capacity."""
        found = self._desks.get(pid)
        if found is None:
            slots = max(1, self.org.person[pid].capacity)
            found = self._desks[pid] = simpy.PriorityResource(self.env, capacity=slots)
        return found

    def at(self, m: float) -> datetime:
        """The wall time of simulation minute `m`."""
        return self.origin + timedelta(minutes=m)

    def reach(self, pid: str, urgent: bool, rng: random.Random) -> Proc:
        """Wait until the person takes a page: at work, woken for severe matters, or later."""
        sched, now = self.schedule(pid), self.env.now
        ack = self.params.p("ack_minutes")
        if sched.working(now):
            delay = rng.expovariate(1 / ack) if ack > 0 else 0.0
        elif urgent:
            wake = self.params.p("wake_up_minutes")
            delay = rng.expovariate(1 / wake) if wake > 0 else 0.0
        else:
            delay = sched.next_start(now) - now + (rng.expovariate(1 / ack) if ack else 0.0)
        yield self.env.timeout(delay)

    def work(self, pid: str, minutes: float, urgent: bool, severity: int) -> Proc:
        """Spend `minutes` of the person's attention; non-urgent work waits for their hours."""
        sched, desk = self.schedule(pid), self.desk(pid)
        while True:
            if not urgent and not sched.working(self.env.now):
                yield self.env.timeout(sched.next_start(self.env.now) - self.env.now)
            with desk.request(priority=severity) as req:
                yield req
                if urgent or sched.working(self.env.now):
                    yield self.env.timeout(minutes)
                    self.busy_minutes[pid] = self.busy_minutes.get(pid, 0.0) + minutes
                    return

    def decide(self, pid: str, urgent: bool, severity: int, rng: random.Random) -> Proc:
        """Decide a request; returns the person-minutes it took."""
        # A manager has only the share of time that coordination leaves.
        mean = self.params.p("decision_minutes")
        spent = rng.expovariate(1 / mean) if mean > 0 else 0.0
        stretch = 1.0
        if pid in self.managers:
            stretch = 1.0 / (1.0 - self.params.p("manager_coordination_share"))
        yield from self.work(pid, spent * stretch, urgent, severity)
        return spent

    def next_sync(self, pid: str) -> float:
        """When the person's next cross-team sync starts (every N of their working hours)."""
        sched, now = self.schedule(pid), self.env.now
        every = max(1.0, self.params.p("sync_every_working_hours") * 60.0)
        done = sched.worked(now)
        slot = math.ceil(done / every) * every
        return max(now, sched.at_worked(slot))

    def first_working(self, ids: list[str]) -> str:
        """The first of `ids` at work now, else the first."""
        for pid in ids:
            if self.schedule(pid).working(self.env.now):
                return pid
        return ids[0]
