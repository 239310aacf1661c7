"""The workload both models face: seeded itops events and the situations they raise."""

# The situations come from the engine's own detectors (the same Monitor the engine runs).

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from baton.config import Config
from baton.engine.monitor import Monitor
from baton.model import Event, Situation
from baton.org.graph import ServiceGraph
from baton.scenarios.itops._state import BILLING_CYCLE, CERTIFIED, STORAGE, activity, office_hours
from baton.sim.orgscale import base_id, dependents_upto, domain_team, hops_down
from baton.sim.params import SimParams

REGIONS = ("America/New_York", "Europe/Berlin", "Asia/Singapore")
SLA = {"P1": 60.0, "P2": 240.0, "P3": 1440.0}  # the itops tickets' resolution SLAs
INCIDENTS = frozenset({"service_down", "service_degraded", "latency_regression"})


@dataclass(frozen=True)
class Case:
    """One situation of the workload, with who answers for it in a hierarchy."""

    situation: Situation
    minute: float  # simulation minutes from the origin
    responder_team: str  # who gets it first: the owner, or the deciding domain's team
    owner_team: str  # who owns the resource the action changes
    teams: tuple[str, ...]  # every team involved (more than one: a cross-team matter)
    root: str | None  # for a cascade dependent: the root outage's situation id
    signature: tuple[Any, ...]  # the attributes a decision may depend on

    @property
    def id(self) -> str:
        """The situation id (the engine's own)."""
        return self.situation.id


@dataclass(frozen=True)
class Workload:
    """Events in time order and the cases they raise."""

    events: list[Event]
    cases: list[Case]
    origin: datetime
    days: float


def _flat(_: datetime) -> float:
    return 1.0


def _profiles() -> dict[str, Callable[[datetime], float]]:
    return {
        "ticket_opened": lambda t: 0.5 + 1.5 * sum(activity(z, t) for z in REGIONS),
        "bad_deploys": lambda t: 2.0 + 3.0 * sum(office_hours(z, t) for z in REGIONS),
        "access_violation": lambda t: 0.3 + 1.6 * sum(office_hours(z, t) for z in REGIONS),
    }


class WorkloadBuilder:
    """Draws arrivals per kind, emits the events that show them, runs the detectors."""

    def __init__(self, config: Config, params: SimParams, *, seed: int, origin: datetime,
                 days: float, load: float, graph: ServiceGraph | None = None) -> None:
        self.config, self.params, self.seed = config, params, seed
        self.origin, self.days, self.load = origin, days, load
        org = config.org
        self.org = org
        self.graph = graph or ServiceGraph(org.services)
        ids = [s.id for s in org.services]
        fanout = {s: dependents_upto(self.graph, s, 91) for s in ids}
        self.fanout = fanout
        self.all = ids
        self.leaves = [s for s in ids if fanout[s] < 10] or ids
        self.hubs = [s for s in ids if 25 <= fanout[s] <= 90] or [max(ids, key=lambda s: fanout[s])]
        facing = [s.id for s in org.services if s.customer_facing]
        self.facing = facing or ids
        self.storage = [s for s in ids if base_id(s) in STORAGE] or ids
        self.certified = [s for s in ids if s in facing or base_id(s) in CERTIFIED] or ids
        self.staff = [p.id for p in org.people if p.role not in ("manager", "director")]
        self.events: list[Event] = []
        self.meta: dict[str, dict[str, Any]] = {}
        self.n = 0

    def _key(self, tag: str) -> str:
        self.n += 1
        return f"k{self.n:06d}.{tag}"

    def _emit(self, type_: str, entity: str, minute: float, tag: str, **attrs: Any) -> str:
        key = self._key(tag)
        at = (self.origin + timedelta(minutes=minute)).replace(microsecond=0)
        self.events.append(Event(key=key, type=type_, entity=entity, time=at, attrs=attrs,
                                 source="baton-sim"))
        return key

    def arrivals(self, kind: str) -> list[float]:
        """Arrival minutes of one kind: a Poisson process shaped like the itops world's day."""
        rng = random.Random(f"{self.seed}:workload:{kind}:times")
        horizon = self.days * 1440.0
        shape: Callable[[datetime], float] = _profiles().get(kind, _flat)
        grid = [shape(self.origin + timedelta(minutes=m)) for m in range(0, int(horizon), 15)]
        mean, peak = sum(grid) / len(grid), max(grid)
        per_min = self.params.rate(kind) * self.load / 1440.0
        if per_min <= 0:
            return []
        top = per_min * peak / mean
        out: list[float] = []
        m = 0.0
        while True:
            m += rng.expovariate(top)
            if m >= horizon:
                return out
            if rng.random() * peak <= shape(self.origin + timedelta(minutes=m)):
                out.append(m)

    def build(self) -> Workload:
        """Every kind's events, then the situations the engine's detectors raise."""
        for kind in type(self.params.workload).model_fields:
            rng = random.Random(f"{self.seed}:workload:{kind}:what")
            make = getattr(self, f"_{kind}")
            for minute in self.arrivals(kind):
                make(minute, rng)
        return workload_of(self.config, self.events, origin=self.origin, days=self.days,
                           meta=self.meta)

    # --- one method per kind -------------------------------------------------------------

    def _service_attrs(self, sid: str) -> dict[str, Any]:
        s = self.org.service[sid]
        return {"tier": s.tier, "team": s.team}

    def _leaf_outages(self, m: float, rng: random.Random) -> None:
        sid = rng.choice(self.leaves)
        self._emit("service.down", sid, m, "down", cause="process crashed",
                   **self._service_attrs(sid))

    def _foundation_outages(self, m: float, rng: random.Random) -> None:
        hub = rng.choice(self.hubs)
        root = self._emit("service.down", hub, m, "down", cause="foundation failure",
                          **self._service_attrs(hub))
        window = self.params.p("cascade_minutes") * 60.0
        for dep, hops in sorted(hops_down(self.graph, hub).items()):
            delay = hops * rng.uniform(40, 120) + rng.uniform(0, 60)
            if delay <= window:
                value = round(0.05 + 0.5 / (1 + hops), 3)
                key = self._emit("alert", dep, m + delay / 60.0, "cascade", metric="error_rate",
                                 value=value, severity="critical" if value >= 0.5 else "warning")
                self.meta[key] = {"root_key": root, "root_team": self.org.service[hub].team}

    def _bad_deploys(self, m: float, rng: random.Random) -> None:
        sid = rng.choice(self.all)
        minor = rng.randint(1, 40)
        ago = rng.uniform(2, 6)
        self._emit("deploy", sid, m - ago, "deploy", version=f"2.{minor}.1",
                   previous=f"2.{minor}.0", change=f"PR-{rng.randint(1000, 9999)}")
        self._emit("alert", sid, m, "errors", metric="error_rate",
                   value=round(rng.uniform(0.08, 0.35), 3), severity="warning")

    def _latency_regression(self, m: float, rng: random.Random) -> None:
        sid = rng.choice(self.all)
        base = rng.uniform(40, 400)
        self._emit("metric", sid, m - 10, "latency", metric="latency_ms",
                   value=round(base, 1), unit="ms")
        self._emit("metric", sid, m, "latency", metric="latency_ms",
                   value=round(base * rng.uniform(2.2, 3.5), 1), unit="ms")

    def _saturation(self, m: float, rng: random.Random) -> None:
        sid = rng.choice(self.all)
        self._emit("alert", sid, m, "cpu", metric="cpu_util", value=round(
            rng.uniform(0.91, 0.99), 3), severity="warning", replicas=rng.randint(2, 6))

    def _cost_anomaly(self, m: float, rng: random.Random) -> None:
        sid = rng.choice(self.leaves)
        base = max(0.5, self.org.service[sid].hourly_cost)
        for h in range(8, 0, -1):
            self._emit("cost.sample", sid, m - 60 * h, "cost", currency="USD",
                       cost_per_hour=round(base * BILLING_CYCLE[h % 3], 2))
        self._emit("cost.sample", sid, m, "cost", currency="USD",
                   cost_per_hour=round(base * rng.uniform(2.5, 4.0), 2))

    def _storage_growth(self, m: float, rng: random.Random) -> None:
        sid = rng.choice(self.storage)
        self._emit("metric", sid, m, "storage", metric="storage_used_pct",
                   value=round(rng.uniform(85.5, 95.0), 1), unit="%")

    def _access_violation(self, m: float, rng: random.Random) -> None:
        grantee = rng.choice(self.staff)
        unapproved = rng.random() < 0.43  # the world: 5% unapproved, 7% admin grants
        self._emit("access.grant", f"grant-{self.n + 1:06d}", m, "grant", grantee=grantee,
                   level=rng.choice(("read", "write")) if unapproved else "admin",
                   approved=not unapproved, resource=rng.choice(self.all),
                   reason="incident follow-up", team=self.org.person[grantee].team)

    def _credential_leaked(self, m: float, rng: random.Random) -> None:
        grantee = rng.choice(self.staff)
        grant = f"grant-{self.n + 1:06d}"
        self._emit("credential.leak", grant, m, "leak", grantee=grantee, grant=grant,
                   credential=f"token-{grant}", found_in="a public GitHub repository",
                   team=self.org.person[grantee].team)

    def _cert_expiring(self, m: float, rng: random.Random) -> None:
        sid = rng.choice(self.certified)
        self._emit("cert.expiry", sid, m, "cert", days_left=rng.randint(1, 13),
                   hostname=f"{sid}.example.com", issuer="acme-internal-ca")

    def _ticket_opened(self, m: float, rng: random.Random) -> None:
        sid = rng.choice(self.facing)
        roll = rng.random()
        priority = "P1" if roll < 0.05 else "P2" if roll < 0.30 else "P3"
        tid = f"TCK-{self.n + 1:06d}"
        team = self.org.service[sid].team
        self._emit("ticket.opened", tid, m, "ticket", priority=priority, service=sid,
                   team=team, subject="slow checkout", channel="email")
        took = max(5.0, SLA[priority] * rng.lognormvariate(math.log(0.65), 0.45))
        self._emit("ticket.resolved", tid, m + took, "resolved", priority=priority, team=team,
                   minutes=round(took, 1))


def workload_of(config: Config, events: list[Event], *, origin: datetime, days: float,
                meta: dict[str, dict[str, Any]] | None = None) -> Workload:
    """A workload from given events: the engine's detectors raise its situations."""
    # `meta` marks cascade alerts by event key: {"root_key": ..., "root_team": ...}.
    events = sorted(events, key=lambda e: (e.time, e.key))
    org, meta = config.org, meta or {}
    monitor = Monitor(config.settings.detectors, org)
    raised: list[Situation] = []
    for event in events:
        raised += monitor.due(event.time)
        raised += monitor.observe(event)
    raised += monitor.due(origin + timedelta(days=days * 2 + 30))
    roots: dict[str, str] = {}
    for s in raised:
        roots.setdefault(s.event_ids[0], s.id)
    cases = [_case(config, s, roots, meta.get(s.event_ids[0], {}), origin) for s in raised]
    involved: dict[str, set[str]] = {}
    for c in cases:
        if c.root is not None:
            involved.setdefault(c.root, {c.owner_team}).update(c.teams)
    cases = [c if c.id not in involved else Case(
        c.situation, c.minute, c.responder_team, c.owner_team,
        tuple(sorted(involved[c.id] | {c.owner_team})), c.root, c.signature) for c in cases]
    return Workload(events, sorted(cases, key=lambda c: (c.minute, c.id)), origin, days)


def _case(config: Config, s: Situation, roots: dict[str, str], meta: dict[str, Any],
          origin: datetime) -> Case:
    """Who answers for a situation: its owner, and the deciding domain's team."""
    org, facts = config.org, s.facts
    if s.entity in org.service:
        owner = org.service[s.entity].team
    else:
        near = str(facts.get("team", org.teams[0].id))
        owner = near if s.kind.startswith("ticket") else domain_team(
            org, s.domain, near, rotating=False)
    responder = owner if org.team[owner].domain == s.domain else domain_team(
        org, s.domain, owner, rotating=True)
    root = roots.get(meta["root_key"]) if meta else None
    teams = {responder, owner} | ({meta["root_team"]} if meta else set())
    signature = (s.kind, s.severity, facts.get("tier"), root is not None,
                 bool(facts.get("recent_deploy")), facts.get("level"),
                 facts.get("approved"), facts.get("priority"), len(teams) > 1)
    minute = (s.time - origin).total_seconds() / 60.0
    return Case(s, minute, responder, owner, tuple(sorted(teams)), root, signature)


def build_workload(config: Config, params: SimParams, *, seed: int, days: float,
                   load: float, graph: ServiceGraph | None = None) -> Workload:
    """The seeded workload for `config`'s organisation at `load` times the itops rates."""
    scale = len(config.org.teams) / 15.0
    return WorkloadBuilder(config, params, seed=seed, origin=params.start, days=days,
                           load=load * scale, graph=graph).build()
