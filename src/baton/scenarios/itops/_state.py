"""State of the simulated itops world: services, tickets, grants, and the daily load curve."""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from baton.org.model import Organisation

#: Services that hold data and report how full their storage is.
STORAGE = frozenset({"postgres-main", "postgres-ledger", "cassandra-events", "elasticsearch",
                     "object-store", "kafka", "data-lake", "warehouse", "backup-service",
                     "log-pipeline"})
#: Hourly billing jitter, a fixed three-step cycle (spot-price steps, per-hour rounding):
#: every window of recent samples already holds its whole spread, so an anomaly detector
#: flags real changes (scaling, runaway jobs) and never the jitter alone.
BILLING_CYCLE = (1.0, 1.01, 0.99)
#: Services with a public TLS certificate besides the customer-facing ones.
CERTIFIED = frozenset({"internal-api-gateway", "identity-provider", "edge-load-balancer"})
SATURATED = 0.9  # CPU utilisation above which a service alerts and slows down
_ZONES: dict[str, ZoneInfo] = {}


def activity(zone: str, at: datetime) -> float:
    """Customer activity in a region, 0.3-1.0: lowest at 04:00 local, peak at 16:00."""
    tz = _ZONES.get(zone)
    if tz is None:
        tz = _ZONES[zone] = ZoneInfo(zone)
    local = at.astimezone(tz)
    hour = local.hour + local.minute / 60
    day = 0.5 * (1 - math.cos(2 * math.pi * (hour - 4) / 24))
    weekend = 0.7 if local.weekday() >= 5 else 1.0
    return (0.3 + 0.7 * day) * weekend


def office_hours(zone: str, at: datetime) -> bool:
    """True on a weekday between 09:00 and 18:00 local time."""
    local = at.astimezone(ZoneInfo(zone))
    return local.weekday() < 5 and 9 <= local.hour < 18


@dataclass
class Svc:
    """One service as the world sees it: load profile, capacity, health and version."""

    id: str
    tier: int
    team: str
    customer_facing: bool
    zones: tuple[str, ...]  # regions whose customers drive its load
    hourly_cost: float
    base_latency: float
    util_peak: float  # CPU utilisation at full load on its normal replica count
    base_replicas: int
    replicas: int
    version: tuple[int, int, int]
    previous: str | None = None
    crashes: int = 0  # how many times it crashed: tells stale cascade steps apart
    down_since: datetime | None = None
    restarting: bool = False
    impaired: dict[str, float] = field(default_factory=dict)  # crashed upstream -> error rate
    bad_error: float = 0.0  # error rate caused by a bad deploy, 0 when the deploy is fine
    bad_latency: float = 1.0  # latency factor of a bad deploy
    runaway: float = 1.0  # cost factor of a runaway job, 1 when none
    alerting: bool = False
    cost_samples: int = 0  # hourly cost samples so far: drives the billing jitter cycle
    storage_pct: float | None = None
    storage_growth: float = 0.0  # percentage points per hour
    cert_expires: datetime | None = None
    hostname: str = ""

    @property
    def down(self) -> bool:
        """True while the service is crashed."""
        return self.down_since is not None

    @property
    def healthy(self) -> bool:
        """True when nothing makes the service fail requests."""
        return not self.down and not self.impaired and self.bad_error == 0.0

    @property
    def version_text(self) -> str:
        """The deployed version as text."""
        return "v{}.{}.{}".format(*self.version)

    def load(self, at: datetime) -> float:
        """Load on the service, 0.3-1.0, following its customers' day."""
        return sum(activity(z, at) for z in self.zones) / len(self.zones)

    def util(self, at: datetime) -> float:
        """CPU utilisation at `at` on the current replica count."""
        return self.util_peak * self.load(at) * self.base_replicas / self.replicas

    def error_rate(self) -> float:
        """Share of failing requests (before noise)."""
        if self.down:
            return 1.0
        return max([self.bad_error, *self.impaired.values()], default=0.0)

    def latency(self, at: datetime) -> float:
        """Expected latency in ms (before noise)."""
        util = self.util(at)
        slow = 1.0 + 6.0 * max(0.0, util - SATURATED)
        upstream = 2.5 if self.impaired else 1.0
        return self.base_latency * (0.8 + 0.5 * self.load(at)) * slow * self.bad_latency \
            * upstream

    def cost(self) -> float:
        """Hourly cost on the current replica count, before billing jitter."""
        return self.hourly_cost * self.replicas / self.base_replicas * self.runaway


@dataclass
class Ticket:
    """A customer ticket and when it will be resolved if nobody intervenes."""

    id: str
    service: str
    team: str
    priority: str
    opened: datetime
    due: datetime
    assigned: bool = False
    escalated: bool = False
    resolved: bool = False


@dataclass
class Grant:
    """An access grant, possibly out of policy."""

    id: str
    grantee: str
    level: str
    approved: bool
    revoked: bool = False
    rotated: bool = False


def team_zones(org: Organisation) -> dict[str, tuple[str, ...]]:
    """The time zones each team's members work in."""
    zones: dict[str, set[str]] = {t.id: set() for t in org.teams}
    for p in org.people:
        if p.role not in ("manager", "director"):
            zones[p.team].add(p.timezone)
    return {t: tuple(sorted(z)) or (org.timezone,) for t, z in zones.items()}


def build_services(org: Organisation, seed: int, start: datetime) -> dict[str, Svc]:
    """Every service of the organisation with a seeded load, capacity and version profile."""
    zones = team_zones(org)
    out: dict[str, Svc] = {}
    for s in org.services:
        rng = random.Random(f"{seed}:profile:{s.id}")
        tight = rng.random() < 0.12
        replicas = rng.randint(6, 16) if s.tier == 0 else rng.randint(3, 12)
        svc = Svc(
            id=s.id, tier=s.tier, team=s.team, customer_facing=s.customer_facing,
            zones=zones[s.team], hourly_cost=s.hourly_cost,
            base_latency=round(rng.uniform(15, 60) + 12 * len(s.dependencies), 1),
            util_peak=rng.uniform(0.97, 1.12) if tight else rng.uniform(0.4, 0.78),
            base_replicas=replicas, replicas=replicas, cost_samples=rng.randrange(3),
            version=(rng.randint(1, 4), rng.randint(0, 30), rng.randint(0, 9)))
        if s.id in STORAGE:
            svc.storage_pct = rng.uniform(52, 76)
            svc.storage_growth = rng.uniform(0.05, 0.3)
        if s.customer_facing or s.id in CERTIFIED:
            svc.hostname = f"{s.id}.acme-shop.example"
            svc.cert_expires = start + timedelta(days=rng.uniform(20, 88))
        out[s.id] = svc
    rng = random.Random(f"{seed}:fixtures")
    for sid in rng.sample(sorted(STORAGE & out.keys()), 2):  # two stores fill up today
        out[sid].storage_pct = rng.uniform(76, 80)
        out[sid].storage_growth = rng.uniform(0.5, 0.9)
    certified = sorted(s for s in out if out[s].cert_expires is not None)
    for sid in rng.sample(certified, min(4, len(certified))):  # a few certificates run out
        out[sid].cert_expires = start + timedelta(days=rng.uniform(3, 13))
    return out


def hops_from(reverse: dict[str, list[str]], root: str) -> dict[str, int]:
    """Every service that depends on `root`, with its distance in dependency hops."""
    hops: dict[str, int] = {}
    queue = deque([(root, 0)])
    while queue:
        node, dist = queue.popleft()
        for up in reverse.get(node, ()):
            if up not in hops:
                hops[up] = dist + 1
                queue.append((up, dist + 1))
    return hops
