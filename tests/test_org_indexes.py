"""The organisation's indexes give what a scan of its people gives, in the same order."""

from __future__ import annotations

from datetime import UTC, datetime

from baton.bench_coordination import bench_org
from baton.escalation.routing import LEADERSHIP, step_people

AT = datetime(2026, 3, 3, 10, tzinfo=UTC)


def test_members_reports_and_roles_follow_the_organisations_order() -> None:
    org = bench_org(3).org
    for team in org.teams:
        assert org.members.get(team.id, []) == [p for p in org.people if p.team == team.id]
    for person in org.people:
        assert org.reports.get(person.id, []) == [
            p.id for p in org.people if p.reports_to == person.id]
    roles = {p.role for p in org.people}
    assert len(roles) > 1
    for role in roles:
        assert org.with_role[role] == [p.id for p in org.people if p.role == role]


def test_every_escalation_step_names_the_people_a_scan_would() -> None:
    org = bench_org(3).org
    for team in org.teams:
        domain = team.domain
        primary, stand_ins = step_people(org, "team_lead", team=team.id, domain=domain, at=AT)
        lead = org.team[team.id].lead
        manager = org.person[lead].reports_to
        scanned = [p.id for p in org.people if p.team == team.id and p.role in LEADERSHIP]
        assert primary == [lead]
        assert stand_ins == list(dict.fromkeys(
            pid for pid in [*scanned, *([manager] if manager else [])] if pid != lead))
        _, reports = step_people(org, "domain_owner", team=team.id, domain=domain, at=AT)
        owner = org.domain[domain].owner
        assert reports == [p.id for p in org.people if p.reports_to == owner and p.id != owner]
    directors, _ = step_people(org, "director", team=org.teams[0].id, domain="-", at=AT)
    assert directors == [p.id for p in org.people if p.role == "director"]
