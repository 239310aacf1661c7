"""Counters the engine keeps for the batch summary and the metrics endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Stats:
    """What happened so far, counted the same live, in replay and after recovery."""

    events: int = 0
    control_events: int = 0
    situations: int = 0
    suppressed: int = 0
    correlated: int = 0
    decisions: int = 0
    verdicts: dict[str, int] = field(
        default_factory=lambda: {"autonomous": 0, "approval": 0, "denied": 0})
    actions_executed: int = 0
    actions_failed: int = 0
    actions_dispatched: int = 0
    actions_unknown: int = 0  # interrupted on a target that cannot dedupe: a person checks
    quarantined: int = 0  # events set aside as dead letters
    compensations: int = 0
    escalations: int = 0
    escalations_expired: int = 0  # walked the whole chain unanswered: the fallback ran
    escalation_steps: int = 0  # moves up a chain after a step's SLA passed
    fallbacks: int = 0
    off_hours_pages: dict[str, int] = field(default_factory=dict)  # person -> pages
    sla_breaches: int = 0  # escalation steps passed unanswered, and late sla_timer stops
    spend: int = 0
    conflicts: int = 0
    # coordination messages sent: pages to people, notices to teams, agents consulted
    messages: int = 0
    resolved: int = 0  # incidents closed with a time to resolve
    ttr_total_minutes: float = 0.0  # their times to resolve, summed (a mean, kept flat)

    @property
    def mttr_minutes(self) -> float:
        """Mean time to resolve the closed incidents (0 before any closed)."""
        return self.ttr_total_minutes / self.resolved if self.resolved else 0.0
