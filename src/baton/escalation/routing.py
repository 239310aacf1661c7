"""Escalation chains: their steps, whom each step pages (following the sun), and deadlines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from baton.org.model import Organisation

NAMED_STEPS = ("oncall", "team_lead", "domain_owner")  # any other step name is a role
LEADERSHIP = ("lead", "manager", "director")  # roles that stand in for a team lead


def owning_team(org: Organisation, resource: str, domain: str) -> str:
    """The team that owns a resource: the service's team, else the domain's first team."""
    service = org.service.get(resource)
    if service is not None:
        return service.team
    for team in org.teams:
        if team.domain == domain:
            return team.id
    return org.teams[0].id


def chain_for(org: Organisation, approver: str, domain: str) -> list[str]:
    """The steps an escalation walks: from the verdict's approver up the domain's chain."""
    # An approver that is a step of the chain starts there; any other (a role such as
    # `security`) is one step before the whole chain.
    steps = org.chain(domain)
    if approver in steps:
        return steps[steps.index(approver):]
    return [approver, *steps]


def sla_minutes(table: dict[int, float], severity: int) -> float:
    """Minutes each step has to answer at this severity (the largest listed if missing)."""
    return table.get(severity, max(table.values(), default=60.0))


def deadline(table: dict[int, float], severity: int, at: datetime) -> datetime:
    """When a step paged at `at` must have answered."""
    return at + timedelta(minutes=sla_minutes(table, severity))


@dataclass(frozen=True)
class Page:
    """Whom one step pages, why them, and who of them is outside working hours."""

    step: str
    candidates: list[str]
    off_hours: list[str]
    route: str


def _unique(ids: list[str], drop: str | None = None) -> list[str]:
    seen: list[str] = []
    for pid in ids:
        if pid != drop and pid not in seen:
            seen.append(pid)
    return seen


def step_people(org: Organisation, step: str, *, team: str,
                domain: str, at: datetime) -> tuple[list[str], list[str]]:
    """(primary, stand-ins) of a step; for a role step the primary is everyone with it,
    nearest the team in the reporting lines first."""
    if step == "oncall":
        primary = org.oncall(team, at)
        rotation = org.rotation_of_team.get(team)
        members = rotation.members if rotation else []
        if primary in members:  # the turn after the primary's comes first
            i = members.index(primary)
            members = members[i + 1:] + members[:i]
        return [primary], _unique(members, primary)
    if step == "team_lead":
        lead = org.team[team].lead
        stand_ins = [p.id for p in org.members.get(team, []) if p.role in LEADERSHIP]
        manager = org.person[lead].reports_to if lead in org.person else None
        return [lead], _unique(stand_ins + ([manager] if manager else []), lead)
    if step == "domain_owner":
        owner = org.domain[domain].owner if domain in org.domain else org.team[team].lead
        return [owner], _unique(list(org.reports.get(owner, [])), owner)
    return list(org.nearest_with_role(step, team)), []


def on_call(org: Organisation, person_id: str, at: datetime) -> bool:
    """True when the person is the on-call of their team's rotation at `at`."""
    person = org.person.get(person_id)
    return (person is not None and person.team in org.rotation_of_team
            and org.oncall(person.team, at) == person_id)


def page(org: Organisation, step: str, *, team: str, domain: str, at: datetime,
         urgent: bool, allowed: Callable[[str], bool], role_pages: int = 3) -> Page:
    """Whom to page for `step` at `at`; `allowed` says who may answer this request at all."""
    # The primary is paged when in working hours, or when the matter can wait. An urgent
    # matter whose primary is off hours goes to the first stand-in in working hours, and
    # to the primary only when no stand-in is working. A primary who may not answer is
    # replaced by the first working stand-in, else the first stand-in. A role pages its
    # members on call now (and in working hours), else its members in working hours, else
    # all of them: at most `role_pages` of them, nearest the team first, so a role held
    # across a large organisation does not page all of it. Nobody allowed: no candidates
    # (skipped).
    primary, stand_ins = step_people(org, step, team=team, domain=domain, at=at)
    primary = [p for p in primary if p in org.person and allowed(p)]
    stand_ins = [p for p in stand_ins if p in org.person and allowed(p) and p not in primary]

    at_work = {p for p in {*primary, *stand_ins} if org.person[p].working(at)}
    working_primary = [p for p in primary if p in at_work]
    working_stand_ins = [p for p in stand_ins if p in at_work]
    if step not in NAMED_STEPS:
        # the role's members on call for their team's rotation now come first
        duty = [p for p in working_primary if on_call(org, p, at)]
        chosen = (duty or working_primary or primary)[:role_pages]
        route = ("the role's member on call" if duty else
                 "the role's members in working hours (none of them is on call)"
                 if working_primary else
                 "the role's members nearest the team: none is in working hours" if primary else "")
    elif primary and (working_primary or not urgent):
        chosen = primary
        route = "primary" if working_primary else "primary, off hours: it can wait"
    elif working_stand_ins:
        chosen = working_stand_ins[:1]
        route = (f"following the sun: {primary[0]} is off hours" if primary
                 else "stand-in in working hours: the primary may not answer")
    elif primary:
        chosen, route = primary, "primary, off hours: no eligible stand-in is working"
    else:
        chosen = stand_ins[:1]
        route = "stand-in, off hours: the primary may not answer" if chosen else ""
    off = [p for p in chosen if p not in at_work]
    return Page(step=step, candidates=chosen, off_hours=off,
                route=route or "skipped: nobody at this step may answer")
