"""Organisations of N teams copied from a scenario's, and queries both models ask."""

from __future__ import annotations

import random
from itertools import zip_longest

import networkx as nx

from baton.config import Config
from baton.org.graph import ServiceGraph
from baton.org.model import Budget, Domain, Organisation, Person, Rotation, Service, Team

SEP = "~"  # replica suffix of generated ids: postgres-main~3
_TEAM_INDEX: dict[int, tuple[Organisation, dict[tuple[str, str, bool], str]]] = {}


def base_id(ident: str) -> str:
    """The scenario id a generated id was copied from."""
    return ident.partition(SEP)[0]


def _replica(ident: str) -> str:
    return ident.partition(SEP)[2]


def domain_team(org: Organisation, domain: str, near: str, *, rotating: bool) -> str:
    """The team of `domain` that answers for `near`'s part of the organisation."""
    # rotating=True prefers a follow-the-sun team (the domain's responders), else the
    # domain's first team (the owner of non-service resources, as the engine routes them).
    entry = _TEAM_INDEX.get(id(org))
    if entry is None or entry[0] is not org:
        index: dict[tuple[str, str, bool], str] = {}
        sun = {r.team for r in org.rotations if r.follow_the_sun}
        for t in org.teams:
            for flag in (False, True):
                key = (t.domain, _replica(t.id), flag)
                if key not in index or (flag and t.id in sun and index[key] not in sun):
                    index[key] = t.id
        entry = _TEAM_INDEX[id(org)] = (org, index)
    index = entry[1]
    found = index.get((domain, _replica(near), rotating)) or index.get((domain, "", rotating))
    if found is None:
        found = next((k for (d, _, f), k in index.items() if d == domain and f == rotating),
                     org.teams[0].id)
    return found


def hops_down(graph: ServiceGraph, sid: str) -> dict[str, int]:
    """Every service that depends on `sid`, with how many dependency hops away it is."""
    lengths = nx.single_source_shortest_path_length(graph.graph.reverse(copy=False), sid)
    return {str(k): int(v) for k, v in lengths.items() if k != sid}


def dependents_upto(graph: ServiceGraph, sid: str, cap: int) -> int:
    """How many services depend on `sid` directly or not, counting no further than `cap`."""
    seen: set[str] = set()
    stack = [sid]
    while stack and len(seen) < cap:
        for up in graph.graph.predecessors(stack.pop()):
            if up not in seen:
                seen.add(up)
                stack.append(up)
    return min(len(seen), cap)


def chain_up(org: Organisation, pid: str) -> list[str]:
    """The reporting line above a person, nearest first."""
    out: list[str] = []
    cur = org.person[pid].reports_to
    while cur is not None and cur not in out and cur in org.person:
        out.append(cur)
        cur = org.person[cur].reports_to
    return out


def _interleaved(org: Organisation) -> list[Team]:
    """Teams round-robin over domains, so any prefix has every domain's kind of team."""
    by_domain = [[t for t in org.teams if t.domain == d.id] for d in org.domains]
    return [t for group in zip_longest(*by_domain) for t in group if t is not None]


def _groups(items: list[str], span: float) -> list[list[str]]:
    """Split into groups whose sizes average `span` (e.g. 10, 9, 10, ... for 9.7)."""
    out: list[list[str]] = []
    start, k = 0, 1
    while start < len(items):
        end = max(start + 1, round(k * span))
        out.append(items[start:end])
        start, k = end, k + 1
    return out


def scaled_config(base: Config, teams: int, span: float, shared: float = 0.0,
                  seed: int = 0) -> Config:
    """The base configuration with `teams` teams copied from its own, managers by span."""
    # Copies keep people, hours, rotations, services and dependencies; a share `shared`
    # of dependencies points to another copy (seeded).
    org = base.org
    rng = random.Random(f"{seed}:orgscale:{teams}")
    order = _interleaved(org)
    picks = [(order[i % len(order)], i // len(order)) for i in range(teams)]
    have = {(t.id, r) for t, r in picks}
    count = {t.id: sum(1 for u, _ in picks if u.id == t.id) for t in order}

    def sid(service: str, r: int) -> str | None:
        owner = org.service[service].team
        if count.get(owner, 0) == 0:
            return None
        if rng.random() < shared:
            r = rng.randrange(count[owner])
        return f"{service}{SEP}{r if (owner, r) in have else r % count[owner]}"

    new_teams, people, rotations, services = [], [], [], []
    for t, r in picks:
        tid = f"{t.id}{SEP}{r}"
        lead = f"{t.lead}{SEP}{r}"
        new_teams.append(Team(id=tid, name=f"{t.name} {r}", domain=t.domain, lead=lead))
        for p in org.people:
            if p.team == t.id and p.role not in ("manager", "director"):
                people.append(p.model_copy(update={
                    "id": f"{p.id}{SEP}{r}", "team": tid,
                    "reports_to": None if p.id == t.lead else lead}))
        rot = org.rotation_of_team.get(t.id)
        if rot is not None:
            rotations.append(rot.model_copy(update={
                "id": f"{rot.id}{SEP}{r}", "team": tid,
                "members": [f"{m}{SEP}{r}" for m in rot.members
                            if org.person[m].team == t.id] or [lead]}))
        for s in org.services:
            if s.team == t.id:
                deps = [d for d in (sid(x, r) for x in s.dependencies) if d is not None]
                services.append(s.model_copy(update={"id": f"{s.id}{SEP}{r}", "team": tid,
                                                     "dependencies": deps}))
    people, domains = _hierarchy(org, new_teams, people, span)
    budgets = [Budget(domain=b.domain, daily=round(b.daily * teams / len(org.teams)),
                      currency=b.currency) for b in org.budgets]
    scaled = Organisation(name=f"{org.name} x{teams} teams", timezone=org.timezone,
                          escalation_chain=org.escalation_chain, domains=domains,
                          teams=new_teams, people=people, rotations=[Rotation.model_validate(
                              r.model_dump()) for r in rotations],
                          services=[Service.model_validate(s.model_dump()) for s in services],
                          budgets=budgets, freezes=org.freezes)
    return Config(root=base.root, settings=base.settings, org=scaled,
                  playbooks=base.playbooks, policies=base.policies)


def _hierarchy(org: Organisation, teams: list[Team], people: list[Person],
               span: float) -> tuple[list[Person], list[Domain]]:
    """Managers over the team leads, `span` reports each, up to one head per domain."""
    zone = {p.id: (p.timezone, p.working_hours) for p in people}
    boss: dict[str, str] = {}
    managers: list[Person] = []
    domains: list[Domain] = []
    for d in org.domains:
        level = [t.lead for t in teams if t.domain == d.id]
        depth = 0
        while len(level) > 1 or depth == 0:
            depth += 1
            above = []
            for k, group in enumerate(_groups(level, span)):
                mid = f"mgr-{d.id}-{depth}-{k}"
                tz, hours = zone[group[0]]
                zone[mid] = (tz, hours)
                team = next(t.id for t in teams if t.domain == d.id)
                managers.append(Person(id=mid, name=mid, role="manager", team=team,
                                       timezone=tz, working_hours=hours, capacity=2,
                                       access="approver", skills=["people-management"]))
                for pid in group:
                    boss[pid] = mid
                above.append(mid)
            level = above
        owner = level[0] if level else teams[0].lead
        domains.append(Domain(id=d.id, name=d.name, owner=owner, chain=d.chain))
    out = [p.model_copy(update={"reports_to": boss[p.id]}) if p.id in boss else p
           for p in people]
    out += [m.model_copy(update={"reports_to": boss.get(m.id), "role": "director"
                                 if m.id not in boss else "manager"}) for m in managers]
    return out, domains
