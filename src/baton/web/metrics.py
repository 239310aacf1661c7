"""Prometheus metrics: decisions by verdict, latency histograms, escalations, budget."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from baton.web.host import EngineHost

LATENCY_MS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000)
LATENCY_S = (1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600)


class Metrics:
    """Counters and histograms fed by every new decision record."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._attached = False
        self.decisions = Counter("baton_decisions", "Decision records by verdict and outcome",
                                 ["domain", "verdict", "outcome"], registry=self.registry)
        self.engine_ms = Histogram("baton_decision_engine_milliseconds",
                                   "Engine processing time from event to recorded decision",
                                   buckets=LATENCY_MS, registry=self.registry)
        self.latency_s = Histogram("baton_decision_latency_seconds",
                                   "Engine-time delay from situation to decision",
                                   buckets=LATENCY_S, registry=self.registry)

    def observe(self, record: dict[str, Any]) -> None:
        """Count one new decision record."""
        verdict = (record.get("verdict") or {}).get("kind", "none")
        outcome = str(record.get("outcome", "")).split(" ", 1)[0].split(";", 1)[0]
        self.decisions.labels(record.get("domain", ""), verdict, outcome).inc()
        self.engine_ms.observe(float(record.get("engine_ms", 0.0)))
        self.latency_s.observe(float(record.get("latency_s", 0.0)))

    def attach(self, host: EngineHost) -> None:
        """Add the gauges read from the engine at scrape time (once per host)."""
        if not self._attached:
            self.registry.register(_StateCollector(host))
            self._attached = True

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)


class _StateCollector(Collector):
    def __init__(self, host: EngineHost) -> None:
        self.host = host

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engine = self.host.engine
        with self.host.lock:
            open_escalations = len(engine.actor.open)
            open_incidents = len(engine.coordinator.open)
            now = engine.clock.now() if engine.clock is not None else None
            budgets = [(b.domain, b.daily, engine.budgets.used(b.domain, now) if now else 0)
                       for b in engine.config.org.budgets]
            killed = dict(engine.actor.killed)
            events = engine.stats.events
            in_flight = len(engine.actor.inflight)
            unknown = engine.stats.actions_unknown
        dead = engine.store.counts().get("dead_letters", 0)
        yield GaugeMetricFamily("baton_escalations_open", "Escalations waiting for a person",
                                value=open_escalations)
        yield GaugeMetricFamily("baton_incidents_open", "Incidents not yet resolved",
                                value=open_incidents)
        yield GaugeMetricFamily("baton_events_processed", "Events processed since start",
                                value=events)
        yield GaugeMetricFamily("baton_dead_letters", "Events set aside because processing "
                                "them failed, not yet retried or discarded", value=dead)
        yield GaugeMetricFamily("baton_effects_in_flight", "Actions dispatched whose result "
                                "has not been folded in", value=in_flight)
        yield GaugeMetricFamily("baton_processing_held", "1 while processing is held because "
                                "a table people read contradicts the ledger",
                                value=1 if engine.held else 0)
        yield GaugeMetricFamily("baton_actions_unknown", "Actions interrupted by a crash on a "
                                "target that cannot dedupe, waiting for a person",
                                value=unknown)
        used = GaugeMetricFamily("baton_budget_used", "Budget used today by domain",
                                 labels=["domain"])
        daily = GaugeMetricFamily("baton_budget_daily", "Daily budget by domain",
                                  labels=["domain"])
        for domain, limit, spent in budgets:
            used.add_metric([domain], spent)
            daily.add_metric([domain], limit)
        yield used
        yield daily
        kill = GaugeMetricFamily("baton_kill_switch", "1 when the kill switch is on",
                                 labels=["scope"])
        for scope, on in sorted(killed.items()):
            kill.add_metric(["global" if scope == "*" else scope], 1 if on else 0)
        yield kill
