"""The service dependency graph: who depends on whom, and how far a failure reaches."""

from __future__ import annotations

import networkx as nx

from baton.org.model import Service


class ServiceGraph:
    """A DAG with an edge from each service to every service it depends on."""

    def __init__(self, services: list[Service]) -> None:
        self.graph: nx.DiGraph = nx.DiGraph()
        for service in services:
            self.graph.add_node(service.id)
            for dep in service.dependencies:
                self.graph.add_edge(service.id, dep)
        self._dependents: dict[str, frozenset[str]] = {}
        self._upstream: dict[str, frozenset[str]] = {}

    def cycle(self) -> list[str] | None:
        """One dependency cycle as a list of service ids, or None for a DAG."""
        try:
            edges = nx.find_cycle(self.graph)
        except nx.NetworkXNoCycle:
            return None
        return [str(a) for a, _ in edges]

    def dependents(self, service: str) -> frozenset[str]:
        """Every service that depends on `service`, directly or not."""
        found = self._dependents.get(service)
        if found is None:
            found = frozenset(nx.ancestors(self.graph, service)) if service in self.graph \
                else frozenset()
            self._dependents[service] = found
        return found

    def upstream(self, service: str) -> frozenset[str]:
        """Every service that `service` depends on, directly or not."""
        found = self._upstream.get(service)
        if found is None:
            found = frozenset(nx.descendants(self.graph, service)) if service in self.graph \
                else frozenset()
            self._upstream[service] = found
        return found

    def blast_radius(self, service: str) -> int:
        """How many services a failure of `service` affects besides itself."""
        return len(self.dependents(service))
