"""Who may answer an escalation now, and its deadline."""

from __future__ import annotations

from datetime import datetime, timedelta

from baton.org.model import Organisation


def owning_team(org: Organisation, resource: str, domain: str) -> str:
    """The team that owns a resource: the service's team, else the domain's first team."""
    service = org.service.get(resource)
    if service is not None:
        return service.team
    for team in org.teams:
        if team.domain == domain:
            return team.id
    return org.teams[0].id


def candidates(org: Organisation, approver: str, *, team: str, domain: str,
               at: datetime) -> list[str]:
    """People who may answer for `approver` (oncall, team_lead, domain_owner or a role)."""
    if approver == "oncall":
        return [org.oncall(team, at)]
    if approver == "team_lead":
        return [org.team[team].lead]
    if approver == "domain_owner":
        owner = org.domain.get(domain)
        return [owner.owner] if owner else [org.team[team].lead]
    people = [p for p in org.people if p.role == approver]
    working = [p.id for p in people if p.working(at)]
    return working or [p.id for p in people] or [org.oncall(team, at)]


def deadline(sla_minutes: dict[int, float], severity: int, at: datetime) -> datetime:
    """When an escalation of this severity must be answered."""
    minutes = sla_minutes.get(severity, max(sla_minutes.values(), default=60.0))
    return at + timedelta(minutes=minutes)
