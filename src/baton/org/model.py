"""The organisation as typed data, with the queries the engine asks of it."""

from __future__ import annotations

from datetime import UTC, datetime, time
from functools import cached_property
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from baton.org.agents import AgentPrincipal


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


def _hours(text: str) -> str:
    try:
        start, end = text.split("-")
        a, b = time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    except ValueError as exc:
        raise ValueError(f"working hours must look like '09:00-17:00', got {text!r}") from exc
    if a == b:
        raise ValueError(f"working hours {text!r} are empty")
    return text


TimeZone = Annotated[str, AfterValidator(_zone)]
Hours = Annotated[str, AfterValidator(_hours)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ACCESS_LEVELS = ("viewer", "operator", "approver", "admin")
Access = Literal["viewer", "operator", "approver", "admin"]
DEFAULT_CHAIN = ("oncall", "team_lead", "domain_owner")


class Domain(_Strict):
    """A decision area (reliability, cost, security, support) with a human owner."""

    id: str
    name: str = ""
    owner: str  # person id
    chain: list[str] | None = None  # escalation steps; the organisation's chain when unset


class Team(_Strict):
    """A team that owns services and answers for them."""

    id: str
    name: str = ""
    domain: str
    lead: str  # person id


class Person(_Strict):
    """Someone who can be paged, approve, or be assigned work."""

    id: str
    name: str = ""
    role: str
    team: str
    timezone: TimeZone
    working_hours: Hours = "09:00-17:00"
    workdays: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    skills: list[str] = Field(default_factory=list)
    capacity: int = Field(default=3, ge=0)
    reports_to: str | None = None
    access: Access = "viewer"  # what the person may do in Baton's API and dashboard

    @field_validator("workdays")
    @classmethod
    def _days(cls, days: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in days):
            raise ValueError("workdays are 0 (Monday) to 6 (Sunday)")
        return days

    def local(self, at: datetime) -> datetime:
        """The person's local wall time at `at`."""
        return at.astimezone(ZoneInfo(self.timezone))

    def working(self, at: datetime) -> bool:
        """True when `at` falls inside the person's working hours on a workday."""
        now = self.local(at)
        start_s, end_s = self.working_hours.split("-")
        start, end = time.fromisoformat(start_s.strip()), time.fromisoformat(end_s.strip())
        t = now.time()
        if start < end:
            return now.weekday() in self.workdays and start <= t < end
        day = now.weekday() if t >= start else (now.weekday() - 1) % 7
        return day in self.workdays and (t >= start or t < end)


class Rotation(_Strict):
    """An on-call rotation: members take turns, each for `period_hours`."""

    id: str
    team: str
    members: list[str] = Field(min_length=1)
    period_hours: int = Field(default=168, gt=0)
    start: datetime = datetime(2026, 1, 5, tzinfo=UTC)
    follow_the_sun: bool = False

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("start must carry a time zone")
        return value


class Service(_Strict):
    """A system with a tier (0 = most critical), an owner team and dependencies."""

    id: str
    tier: int = Field(ge=0, le=3)
    team: str
    dependencies: list[str] = Field(default_factory=list)
    hourly_cost: float = Field(default=0.0, ge=0)
    customer_facing: bool = False


class Cell(_Strict):
    """An independent coordination domain: its services have a sequencer, a stream and a
    ledger chain of their own (see baton.org.cells)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")
    services: list[str] = Field(min_length=1)


class Budget(_Strict):
    """A daily spending limit for one domain."""

    domain: str
    daily: int = Field(ge=0)
    currency: str = "USD"


class Freeze(_Strict):
    """A change-freeze window, for all domains or the ones named."""

    id: str
    start: datetime
    end: datetime
    domains: list[str] = Field(default_factory=list)
    reason: str = ""

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("a freeze time must carry a time zone (e.g. 2026-03-02T14:00:00Z)")
        return value


class Organisation(_Strict):
    """Everything Baton knows about who and what it coordinates."""

    name: str
    timezone: TimeZone = "UTC"
    escalation_chain: list[str] = Field(default_factory=lambda: list(DEFAULT_CHAIN),
                                        min_length=1)
    domains: list[Domain]
    teams: list[Team]
    people: list[Person]
    rotations: list[Rotation] = Field(default_factory=list)
    services: list[Service] = Field(default_factory=list)
    budgets: list[Budget] = Field(default_factory=list)
    freezes: list[Freeze] = Field(default_factory=list)
    #: cells to split the organisation into: declared, "auto" (the weakly connected parts
    #: of the dependency graph joined by shared teams and budgets), or none (one cell)
    cells: list[Cell] | Literal["auto"] = Field(default_factory=list)
    agents: list[AgentPrincipal] = Field(default_factory=list)  # outside and LLM agents

    @cached_property
    def agent(self) -> dict[str, AgentPrincipal]:
        """Outside and LLM agents by id."""
        return {a.id: a for a in self.agents}

    @cached_property
    def person(self) -> dict[str, Person]:
        """People by id."""
        return {p.id: p for p in self.people}

    @cached_property
    def team(self) -> dict[str, Team]:
        """Teams by id."""
        return {t.id: t for t in self.teams}

    @cached_property
    def service(self) -> dict[str, Service]:
        """Services by id."""
        return {s.id: s for s in self.services}

    @cached_property
    def domain(self) -> dict[str, Domain]:
        """Domains by id."""
        return {d.id: d for d in self.domains}

    @cached_property
    def budget(self) -> dict[str, Budget]:
        """Daily budgets by domain."""
        return {b.domain: b for b in self.budgets}

    @cached_property
    def members(self) -> dict[str, list[Person]]:
        """The people of each team, in the organisation's order."""
        found: dict[str, list[Person]] = {}
        for p in self.people:
            found.setdefault(p.team, []).append(p)
        return found

    @cached_property
    def reports(self) -> dict[str, list[str]]:
        """Who reports to each person, in the organisation's order."""
        found: dict[str, list[str]] = {}
        for p in self.people:
            if p.reports_to is not None:
                found.setdefault(p.reports_to, []).append(p.id)
        return found

    @cached_property
    def with_role(self) -> dict[str, list[str]]:
        """The people of each role, in the organisation's order."""
        found: dict[str, list[str]] = {}
        for p in self.people:
            found.setdefault(p.role, []).append(p.id)
        return found

    @cached_property
    def _nearest(self) -> dict[tuple[str, str], list[str]]:
        return {}

    def managers(self, person: str) -> list[str]:
        """`person` and everyone above them, nearest first (a cycle stops the walk)."""
        found: list[str] = []
        at: str | None = person
        while at is not None and at in self.person and at not in found:
            found.append(at)
            at = self.person[at].reports_to
        return found

    def nearest_with_role(self, role: str, team: str) -> list[str]:
        """The people of `role`, nearest `team` in the reporting lines first: by the steps
        from each to the team's lead through their lowest common manager (the team's own
        people are one step away), then in the organisation's order. Kept per role and
        team: the organisation does not change while it is in use."""
        key = (role, team)
        found = self._nearest.get(key)
        if found is None:
            lead = self.team[team].lead if team in self.team else None
            above = {m: i for i, m in enumerate(self.managers(lead))} if lead else {}

            def steps(pid: str) -> int:
                for i, m in enumerate(self.managers(pid)):
                    if m in above:
                        return i + above[m]
                return len(self.people) + 1  # no common manager: after everyone who has

            holders = self.with_role.get(role, [])
            order = {pid: i for i, pid in enumerate(holders)}
            found = sorted(holders, key=lambda pid: (steps(pid), order[pid]))
            self._nearest[key] = found
        return found

    @cached_property
    def rotation_of_team(self) -> dict[str, Rotation]:
        """The on-call rotation of each team that has one."""
        return {r.team: r for r in self.rotations}

    def oncall(self, team: str, at: datetime) -> str:
        """The person on call for `team` at `at` (the lead when the team has no rotation)."""
        rotation = self.rotation_of_team.get(team)
        if rotation is None:
            return self.team[team].lead
        if rotation.follow_the_sun:
            for member in rotation.members:
                if self.person[member].working(at):
                    return member
        hours = int((at - rotation.start).total_seconds() // 3600)
        return rotation.members[(hours // rotation.period_hours) % len(rotation.members)]

    def chain(self, domain: str) -> list[str]:
        """The escalation steps for a domain."""
        own = self.domain[domain].chain if domain in self.domain else None
        return list(own) if own else list(self.escalation_chain)

    def frozen(self, domain: str, at: datetime) -> Freeze | None:
        """The freeze window in force for `domain` at `at`, if any."""
        for freeze in self.freezes:
            if freeze.start <= at < freeze.end and (not freeze.domains or domain in freeze.domains):
                return freeze
        return None
