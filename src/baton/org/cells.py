"""Cells: independent coordination domains of one organisation.

Each cell has its own sequencer, stream and ledger chain, and decides deterministically
from its own log. Cells are declared in the organisation YAML (`cells:` with the services
of each), or derived (`cells: auto`) as the weakly connected parts of the dependency
graph, joined where two services share a team (people) or a domain (a budget). Without
`cells`, the organisation is one cell, `main`.

A dependency that crosses cells is explicit: when an incident opens on a service that a
service of another cell depends on, the cell publishes it to that cell as an
`incident.upstream` event.
"""

from __future__ import annotations

import itertools
from functools import cached_property

import networkx as nx

from baton.org.model import Organisation

MAIN = "main"


class Cells:
    """Which cell each service belongs to, and which cells depend on which services."""

    def __init__(self, org: Organisation) -> None:
        self.org = org

    @cached_property
    def of_service(self) -> dict[str, str]:
        """Service id -> cell id."""
        org = self.org
        if org.cells == "auto":
            return _derived(org)
        if org.cells:
            return {s: c.id for c in org.cells for s in c.services}
        return {s.id: MAIN for s in org.services}

    @cached_property
    def ids(self) -> list[str]:
        """Every cell, in a stable order."""
        if isinstance(self.org.cells, list) and self.org.cells:
            return [c.id for c in self.org.cells]
        return sorted(set(self.of_service.values())) or [MAIN]

    def cell_of(self, entity: str, default: str = MAIN) -> str:
        """The cell an event about `entity` goes to (not a service: `default`)."""
        return self.of_service.get(entity, default)

    def dependents(self, service: str) -> list[str]:
        """The other cells with a service that depends on `service` (directly or not)."""
        graph = nx.DiGraph()
        for s in self.org.services:
            graph.add_node(s.id)
            for dep in s.dependencies:
                graph.add_edge(s.id, dep)
        if service not in graph:
            return []
        home = self.cell_of(service)
        return sorted({self.cell_of(s) for s in nx.ancestors(graph, service)} - {home})


def _derived(org: Organisation) -> dict[str, str]:
    graph = nx.Graph()
    by_team: dict[str, list[str]] = {}
    team_domain = {t.id: t.domain for t in org.teams}
    by_domain: dict[str, list[str]] = {}
    for s in org.services:
        graph.add_node(s.id)
        for dep in s.dependencies:
            graph.add_edge(s.id, dep)
        by_team.setdefault(s.team, []).append(s.id)
        by_domain.setdefault(team_domain.get(s.team, ""), []).append(s.id)
    for group in [*by_team.values(), *by_domain.values()]:
        for a, b in itertools.pairwise(group):
            graph.add_edge(a, b)
    parts = sorted((sorted(p) for p in nx.connected_components(graph)), key=lambda p: p[0])
    if len(parts) <= 1:
        return {s.id: MAIN for s in org.services}
    return {s: f"cell-{part[0]}"[:31] for part in parts for s in part}
