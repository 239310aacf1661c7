"""Load and cross-check the organisation YAML; errors name file, line and field."""

from __future__ import annotations

from pathlib import Path

from baton.org.graph import ServiceGraph
from baton.org.model import Organisation
from baton.yamlsrc import Located, load_yaml


def load_organisation(path: Path) -> Organisation:
    """Read org.yaml, validate every field and every reference between them."""
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise doc.error((), "the organisation must be a mapping with teams, people, services")
    org = doc.validate(Organisation)
    check_references(org, doc)
    return org


def _unique(doc: Located, section: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i, ident in enumerate(ids):
        if ident in seen:
            raise doc.error((section, i, "id"), f"duplicate id {ident!r}")
        seen.add(ident)


def check_references(org: Organisation, doc: Located) -> None:
    """Every id an entry names must exist; services must form a DAG."""
    for section in ("domains", "teams", "people", "rotations", "services", "agents"):
        _unique(doc, section, [item.id for item in getattr(org, section)])
    people, teams, domains = org.person, org.team, org.domain

    def need(ok: bool, path: tuple[str | int, ...], what: str) -> None:
        if not ok:
            raise doc.error(path, what)

    for i, d in enumerate(org.domains):
        need(d.owner in people, ("domains", i, "owner"), f"unknown person {d.owner!r}")
    for i, t in enumerate(org.teams):
        need(t.domain in domains, ("teams", i, "domain"), f"unknown domain {t.domain!r}")
        need(t.lead in people, ("teams", i, "lead"), f"unknown person {t.lead!r}")
    for i, p in enumerate(org.people):
        need(p.team in teams, ("people", i, "team"), f"unknown team {p.team!r}")
        if p.reports_to is not None:
            need(p.reports_to in people, ("people", i, "reports_to"),
                 f"unknown person {p.reports_to!r}")
            need(p.reports_to != p.id, ("people", i, "reports_to"), "a person cannot report to "
                 "themselves")
    for i, r in enumerate(org.rotations):
        need(r.team in teams, ("rotations", i, "team"), f"unknown team {r.team!r}")
        for j, m in enumerate(r.members):
            need(m in people, ("rotations", i, "members", j), f"unknown person {m!r}")
    for i, s in enumerate(org.services):
        need(s.team in teams, ("services", i, "team"), f"unknown team {s.team!r}")
        for j, dep in enumerate(s.dependencies):
            need(dep in org.service, ("services", i, "dependencies", j),
                 f"unknown service {dep!r}")
            need(dep != s.id, ("services", i, "dependencies", j), "a service cannot depend on "
                 "itself")
    for i, b in enumerate(org.budgets):
        need(b.domain in domains, ("budgets", i, "domain"), f"unknown domain {b.domain!r}")
    for i, f in enumerate(org.freezes):
        need(f.end > f.start, ("freezes", i, "end"), "a freeze must end after it starts")
        for j, name in enumerate(f.domains):
            need(name in domains, ("freezes", i, "domains", j), f"unknown domain {name!r}")
    if isinstance(org.cells, list):
        _unique(doc, "cells", [c.id for c in org.cells])
        placed: dict[str, str] = {}
        for i, c in enumerate(org.cells):
            for j, name in enumerate(c.services):
                need(name in org.service, ("cells", i, "services", j),
                     f"unknown service {name!r}")
                need(name not in placed, ("cells", i, "services", j),
                     f"service {name!r} is already in cell {placed.get(name)!r}")
                placed[name] = c.id
        missing = [s.id for s in org.services if s.id not in placed]
        need(not org.cells or not missing, ("cells",),
             f"every service needs a cell; in none: {', '.join(missing)}")
    for i, a in enumerate(org.agents):
        need(a.owner in people, ("agents", i, "owner"), f"unknown person {a.owner!r}")
        need(a.domain in domains, ("agents", i, "domain"), f"unknown domain {a.domain!r}")
    cycle = ServiceGraph(org.services).cycle()
    if cycle:
        first = org.services.index(org.service[cycle[0]])
        raise doc.error(("services", first, "dependencies"),
                        "dependency cycle: " + " -> ".join([*cycle, cycle[0]]))
