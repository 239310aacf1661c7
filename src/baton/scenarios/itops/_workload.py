"""The day's workload: samples, deploys, failures, tickets, grants, leaks and certificates."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from baton.org.model import Organisation
from baton.scenarios.itops._core import WorldCore, stamp
from baton.scenarios.itops._state import (
    BILLING_CYCLE,
    SATURATED,
    Grant,
    Ticket,
    activity,
    office_hours,
)

HOUR = timedelta(hours=1)
REGIONS = ("America/New_York", "Europe/Berlin", "Asia/Singapore")
SLA_MINUTES = {"P1": 60.0, "P2": 240.0, "P3": 1440.0}
SUBJECTS = ("page does not load", "payment declined twice", "order stuck in processing",
            "cannot log in", "search shows no results", "invoice amount looks wrong",
            "app crashes on start", "slow checkout", "refund not received")
REASONS = ("on-call debugging", "data export for finance", "migration", "incident follow-up",
           "new team member", "quarterly audit")
LEAK_PLACES = ("a public GitHub repository", "a paste site", "a CI build log")


def _arrival(rng: random.Random, after: datetime, rate: Callable[[datetime], float],
             peak: float) -> datetime:
    """The next arrival of a Poisson process with rate(t) <= peak per hour (thinning)."""
    t = after
    while True:
        t += timedelta(seconds=max(1, round(rng.expovariate(peak) * 3600)))
        if rng.random() * peak <= rate(t):
            return t


class Workload(WorldCore):
    """What happens in the organisation whether or not anybody acts."""

    def __init__(self, org: Organisation, *, seed: int, start: datetime,
                 slowdown: float = 1.0) -> None:
        super().__init__(org, seed=seed, start=start)
        self.slowdown = slowdown
        self._handlers.update({
            "sample": self._on_sample, "cost": self._on_cost, "cert": self._on_cert,
            "deploy": self._on_deploy, "failure": self._on_failure, "day": self._on_day,
            "ticket": self._on_ticket, "incident_ticket": self._on_incident_ticket,
            "resolve": self._on_resolve, "grant": self._on_grant, "leak": self._on_leak,
            "runaway": self._on_runaway, "runaway_end": self._on_runaway_end,
        })
        self._staff: dict[str, list[str]] = {}
        for p in org.people:
            if p.role not in ("manager", "director"):
                self._staff.setdefault(p.team, []).append(p.id)
        self._people = sorted(pid for ids in self._staff.values() for pid in ids)
        self._ids = sorted(self.svc)
        self._facing = [s for s in self._ids if self.svc[s].customer_facing]
        self._fanout = {s: len(self._dependents(s)) for s in self._ids}
        self._leaves = [s for s in self._ids if self._fanout[s] < 10]
        self._hubs = [s for s in self._ids if 25 <= self._fanout[s] <= 90]  # foundations
        self._counters: dict[str, int] = {}
        offsets = random.Random(f"{seed}:offsets")
        for sid in self._ids:
            self.at(start + timedelta(seconds=offsets.randint(1, 899)), "sample", sid)
            self.at(start + timedelta(seconds=offsets.randint(1, 3599)), "cost", sid)
            if self.svc[sid].cert_expires is not None:
                self.at(start + timedelta(hours=6, seconds=offsets.randint(1, 3599)),
                        "cert", sid)
        for process in ("deploy", "failure", "ticket", "grant"):
            self._schedule(process, start)
        self._on_day(start, "0")

    def _dependents(self, sid: str) -> set[str]:
        found: set[str] = set()
        stack = [sid]
        while stack:
            for up in self.reverse[stack.pop()]:
                if up not in found:
                    found.add(up)
                    stack.append(up)
        return found

    # --- rates per hour --------------------------------------------------------------

    def _rate(self, process: str, t: datetime) -> float:
        if process == "deploy":
            return 2.0 + 3.0 * sum(office_hours(z, t) for z in REGIONS)
        if process == "failure":
            return 0.25
        if process == "ticket":
            return 0.5 + 1.5 * sum(activity(z, t) for z in REGIONS)
        return 0.3 + 1.6 * sum(office_hours(z, t) for z in REGIONS)  # grants

    def _schedule(self, process: str, after: datetime) -> None:
        peak = {"deploy": 8.0, "failure": 0.25, "ticket": 5.0, "grant": 5.1}[process]
        when = _arrival(self.rng(f"{process}:clock"), after,
                        lambda t: self._rate(process, t), peak)
        self.at(when, process)

    # --- periodic samples ------------------------------------------------------------

    def _on_sample(self, when: datetime, sid: str) -> None:
        svc, rng = self.svc[sid], self.rng(f"sample:{sid}")
        noise = rng.uniform(0.94, 1.06)
        util = svc.util(when) * rng.uniform(0.98, 1.02)
        if not svc.down:  # a crashed service reports no latency at all
            self.emit("metric", sid, when, f"metric:{sid}:latency_ms:{stamp(when)}",
                      metric="latency_ms", value=round(svc.latency(when) * noise, 1), unit="ms")
            if util > SATURATED:
                self.emit("alert", sid, when, f"alert:{sid}:cpu_util:{stamp(when)}",
                          metric="cpu_util", value=round(util, 3), severity="warning",
                          replicas=svc.replicas)
        self.at(when + timedelta(minutes=15), "sample", sid)

    def _on_cost(self, when: datetime, sid: str) -> None:
        svc = self.svc[sid]
        svc.cost_samples += 1
        cost = svc.cost() * BILLING_CYCLE[svc.cost_samples % len(BILLING_CYCLE)]
        self.emit("cost.sample", sid, when, f"cost.sample:{sid}:{stamp(when)}",
                  cost_per_hour=round(cost, 2), currency="USD", replicas=svc.replicas)
        if svc.storage_pct is not None:
            svc.storage_pct = min(99.5, svc.storage_pct + svc.storage_growth)
            self.emit("metric", sid, when, f"metric:{sid}:storage_used_pct:{stamp(when)}",
                      metric="storage_used_pct", value=round(svc.storage_pct, 1), unit="%")
        self.at(when + HOUR, "cost", sid)

    def _on_cert(self, when: datetime, sid: str) -> None:
        svc = self.svc[sid]
        if svc.cert_expires is not None:
            days = math.floor((svc.cert_expires - when).total_seconds() / 86400)
            self.emit("cert.expiry", sid, when, f"cert.expiry:{sid}:{stamp(when)}",
                      days_left=days, hostname=svc.hostname, issuer="acme-internal-ca")
        self.at(when + timedelta(days=1), "cert", sid)

    # --- the day's plan: one foundation incident, one leak, cost runaways ----------------

    def _on_day(self, when: datetime, day: str) -> None:
        rng = self.rng(f"day:{day}")
        midnight = self.start + timedelta(days=int(day))
        self.at(midnight + timedelta(hours=rng.uniform(3, 21)), "crash", rng.choice(self._hubs))
        self.at(midnight + timedelta(hours=rng.uniform(6, 20)), "leak")
        for sid in rng.sample(self._leaves, rng.randint(2, 3)):
            self.at(midnight + timedelta(hours=rng.uniform(9, 21)), "runaway", sid)
        self.at(midnight + timedelta(days=1), "day", str(int(day) + 1))

    def _on_runaway(self, when: datetime, sid: str) -> None:
        rng = self.rng("runaway")
        factor, hours = rng.uniform(2.5, 4.0), rng.uniform(6, 12)
        self.svc[sid].runaway = factor  # a forgotten load test or a runaway batch job
        self.at(when + timedelta(hours=hours), "runaway_end", sid)

    def _on_runaway_end(self, when: datetime, sid: str) -> None:
        self.svc[sid].runaway = 1.0

    # --- deploys and crashes -------------------------------------------------------------

    def _on_deploy(self, when: datetime, _: str) -> None:
        rng = self.rng("deploy")  # draw everything first: the stream must not depend on state
        sid = rng.choice(self._ids)
        bad, error, slow, minor = (rng.random() < 0.15, rng.uniform(0.08, 0.35),
                                   rng.uniform(2.2, 3.5) if rng.random() < 0.5 else 1.0,
                                   rng.random() < 0.2)
        author = rng.choice(self._staff.get(self.svc[sid].team) or self._people)
        change, first_alert = rng.randint(1000, 9999), timedelta(minutes=rng.uniform(2, 6))
        self._schedule("deploy", when)
        svc = self.svc[sid]
        if svc.down or self.org.frozen(self.org.team[svc.team].domain, when):
            return  # nobody ships to a crashed service or during a freeze
        if self._fanout[sid] >= 10 and not office_hours(svc.zones[0], when):
            return  # foundations change only in office hours
        major, mid, patch = svc.version
        svc.previous = svc.version_text
        svc.version = (major, mid + 1, 0) if minor else (major, mid, patch + 1)
        svc.bad_error = error if bad else 0.0
        svc.bad_latency = slow if bad else 1.0
        self.emit("deploy", sid, when, f"deploy:{sid}:{svc.version_text}",
                  version=svc.version_text, previous=svc.previous, author=author,
                  change=f"PR-{change}")
        if bad:
            self.start_alerting(sid, when + first_alert)

    def _on_failure(self, when: datetime, _: str) -> None:
        sid = self.rng("failure").choice(self._leaves)
        self._schedule("failure", when)
        self.at(when, "crash", sid)

    # --- tickets -------------------------------------------------------------------------

    def open_ticket(self, when: datetime, sid: str, priority: str, subject: str,
                    rng: random.Random, prefix: str = "TCK") -> None:
        """A customer opens a ticket about a service; it resolves on its own in due time."""
        self._counters[prefix] = number = self._counters.get(prefix, 0) + 1
        tid = f"{prefix}-{number:05d}"
        svc = self.svc[sid]
        minutes = SLA_MINUTES[priority] * rng.lognormvariate(math.log(0.65), 0.45)
        due = when + timedelta(minutes=max(5.0, minutes * self.slowdown))
        self.tickets[tid] = Ticket(id=tid, service=sid, team=svc.team, priority=priority,
                                   opened=when, due=due.replace(microsecond=0))
        self.emit("ticket.opened", tid, when, f"ticket.opened:{tid}", priority=priority,
                  service=sid, team=svc.team, subject=subject,
                  customer=f"cust-{rng.randint(10000, 99999)}",
                  channel=rng.choice(("email", "chat", "phone")))
        self.at(self.tickets[tid].due, "resolve", tid)

    def _on_ticket(self, when: datetime, _: str) -> None:
        rng = self.rng("ticket")
        weights = [sum(activity(z, when) for z in self.svc[s].zones) for s in self._facing]
        sid = rng.choices(self._facing, weights=weights)[0]
        roll = rng.random()
        priority = "P1" if roll < 0.05 else "P2" if roll < 0.30 else "P3"
        self.open_ticket(when, sid, priority, rng.choice(SUBJECTS), rng)
        self._schedule("ticket", when)

    def _on_incident_ticket(self, when: datetime, arg: str) -> None:
        sid, root = arg.split("|")
        if not self.svc[root].down:
            return  # fixed before customers noticed
        rng = self.rng("incident_ticket")
        priority = "P1" if self.svc[sid].tier == 0 else "P2"
        self.open_ticket(when, sid, priority, f"{sid} is failing for us right now", rng,
                         prefix="TCK-INC")

    def _on_resolve(self, when: datetime, tid: str) -> None:
        ticket = self.tickets[tid]
        if ticket.resolved or when != ticket.due:
            return  # resolved already, or rescheduled by an assignment or escalation
        ticket.resolved = True
        self.emit("ticket.resolved", tid, when, f"ticket.resolved:{tid}",
                  priority=ticket.priority, team=ticket.team,
                  minutes=round((when - ticket.opened).total_seconds() / 60, 1),
                  assigned=ticket.assigned, escalated=ticket.escalated)

    # --- access ------------------------------------------------------------------------

    def _on_grant(self, when: datetime, _: str) -> None:
        rng = self.rng("grant")
        gid = f"grant-{len(self.grants) + 1:05d}"
        grantee, sid = rng.choice(self._people), rng.choice(self._ids)
        roll = rng.random()
        level = "read" if roll < 0.55 else "write" if roll < 0.93 else "admin"
        approved = rng.random() >= 0.05
        self.grants[gid] = Grant(id=gid, grantee=grantee, level=level, approved=approved)
        team = self.org.person[grantee].team
        attrs: dict[str, object] = {"grantee": grantee, "level": level, "approved": approved,
                                    "resource": sid, "reason": rng.choice(REASONS)}
        if approved:
            attrs["approved_by"] = self.org.team[team].lead
        self.emit("access.grant", gid, when, f"access.grant:{gid}", **attrs)
        self._schedule("grant", when)

    def _on_leak(self, when: datetime, _: str) -> None:
        rng = self.rng("leak")
        live = sorted(g for g, grant in self.grants.items() if not grant.revoked)
        place = rng.choice(LEAK_PLACES)
        if not live:
            self.at(when + HOUR, "leak")
            return
        grant = self.grants[rng.choice(live)]
        self.emit("credential.leak", grant.id, when, f"credential.leak:{grant.id}:{stamp(when)}",
                  grantee=grant.grantee, grant=grant.id, credential=f"token-{grant.id}",
                  found_in=place)
