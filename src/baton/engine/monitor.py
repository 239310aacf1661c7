"""Monitor: detectors over events and state raise situations; SLA timers fire in virtual time."""

from __future__ import annotations

import heapq
import math
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from baton.config import (
    AnomalyDetector,
    ComplianceDetector,
    Detector,
    MatchDetector,
    RateOfChangeDetector,
    SlaTimerDetector,
    ThresholdDetector,
)
from baton.model import Event, Situation
from baton.org.model import Organisation


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def breach(det: ComplianceDetector, attrs: dict[str, Any]) -> str:
    """What an event breaks, as a sentence part: "it was not approved", "level admin is
    not allowed (only read or write)" (playbook rationales use it as {facts[breach]})."""
    parts = []
    for k, want in det.require.items():
        have = attrs.get(k)
        if have == want:
            continue
        if isinstance(want, bool):
            parts.append(f"it was {'not ' if want else ''}{k}")
        else:
            parts.append(f"{k} is {'missing' if have is None else have}, not {want}")
    for k, allowed in det.allowed.items():
        have = attrs.get(k)
        if have not in allowed:
            choices = " or ".join(str(a) for a in allowed)
            parts.append(f"{k} {'is missing' if have is None else f'{have} is not allowed'} "
                         f"(only {choices})")
    return " and ".join(parts)


class Monitor:
    """Runs every detector over each event and keeps the state they need."""

    def __init__(self, detectors: list[Detector], org: Organisation) -> None:
        self.org = org
        self.by_event: dict[str, list[Detector]] = {}
        self.stoppers: dict[str, list[SlaTimerDetector]] = {}
        for d in detectors:
            if isinstance(d, SlaTimerDetector):
                self.by_event.setdefault(d.start, []).append(d)
                self.stoppers.setdefault(d.stop, []).append(d)
            else:
                self.by_event.setdefault(d.event, []).append(d)
        self.deploys: dict[str, tuple[datetime, str, str]] = {}  # service -> time, ver, prev
        self.series: dict[tuple[str, str, str], deque[tuple[datetime, float]]] = {}
        self.timers: list[tuple[datetime, int, str, str]] = []  # due, n, detector, entity
        self.timer_data: dict[tuple[str, str], tuple[Event, float]] = {}
        self.deadlines: dict[tuple[str, str], datetime] = {}
        self._breaches = 0
        self._breached: list[str] = []  # entities whose SLA broke since the last look
        self._n = 0
        self._detectors = {d.id: d for d in detectors}

    def observe(self, event: Event) -> list[Situation]:
        """Update state with one event and return the situations it raises."""
        if event.type == "deploy":
            prev = self.deploys.get(event.entity)
            self.deploys[event.entity] = (event.time, str(event.attrs.get("version", "")),
                                          str(event.attrs.get("previous", prev[1] if prev
                                                              else "")))
        for stopper in self.stoppers.get(event.type, ()):
            self.timer_data.pop((stopper.id, event.entity), None)
            deadline = self.deadlines.pop((stopper.id, event.entity), None)
            if deadline is not None and event.time > deadline:
                self._breaches += 1
                self._breached.append(event.entity)
        raised: list[Situation] = []
        for det in self.by_event.get(event.type, ()):
            situation = self._apply(det, event)
            if situation is not None:
                raised.append(situation)
        return raised

    def foresee(self, event: Event) -> list[Situation]:
        """The situations the stateless detectors (match, compliance, threshold) would raise
        for `event` now, changing nothing; detectors with memory are left out."""
        raised: list[Situation] = []
        for det in self.by_event.get(event.type, ()):
            if isinstance(det, MatchDetector | ComplianceDetector | ThresholdDetector):
                situation = self._apply(det, event)
                if situation is not None:
                    raised.append(situation)
        return raised

    def due(self, now: datetime) -> list[Situation]:
        """Situations from SLA timers whose time has come by `now`."""
        raised: list[Situation] = []
        while self.timers and self.timers[0][0] <= now:
            due, _, det_id, entity = heapq.heappop(self.timers)
            data = self.timer_data.pop((det_id, entity), None)
            if data is None:
                continue  # stopped before it fired
            start, minutes = data
            det = self._detectors[det_id]
            facts = dict(start.attrs, sla_minutes=minutes,
                         opened=start.time.isoformat(), deadline=(
                             start.time + timedelta(minutes=minutes)).isoformat())
            raised.append(self._situation(det, start, facts, when=due, suffix="sla"))
        return raised

    def take_breached(self) -> list[str]:
        """The entities whose SLA broke since the last call."""
        out, self._breached = self._breached, []
        return out

    def take_breaches(self) -> int:
        """SLA breaches seen since the last call (a stop event after its deadline)."""
        count, self._breaches = self._breaches, 0
        return count

    def facts_for(self, entity: str, at: datetime) -> dict[str, Any]:
        """What the monitor knows about an entity at `at`: tier, last deploy."""
        facts: dict[str, Any] = {}
        service = self.org.service.get(entity)
        if service is not None:
            facts["tier"] = service.tier
            facts["team"] = service.team
        deploy = self.deploys.get(entity)
        if deploy is not None:
            minutes = int((at - deploy[0]).total_seconds() // 60)
            facts.update(minutes_since_deploy=minutes, version=deploy[1],
                         previous_version=deploy[2], recent_deploy=0 <= minutes <= 60)
        return facts

    def _apply(self, det: Detector, event: Event) -> Situation | None:
        attrs = event.attrs
        if isinstance(det, MatchDetector):
            if all(attrs.get(k) == v for k, v in det.where.items()):
                return self._situation(det, event, dict(attrs))
            return None
        if isinstance(det, ComplianceDetector):
            broken = [f"{k} must be {v!r}" for k, v in det.require.items() if attrs.get(k) != v]
            broken += [f"{k} must be one of {v!r}" for k, v in det.allowed.items()
                       if attrs.get(k) not in v]
            if broken:
                return self._situation(det, event, dict(attrs, violations=broken,
                                                        breach=breach(det, attrs)))
            return None
        if isinstance(det, SlaTimerDetector):
            minutes = det.minutes
            if det.minutes_by is not None:
                minutes = det.minutes_map.get(str(attrs.get(det.minutes_by)), det.minutes)
            self.timer_data[(det.id, event.entity)] = (event, minutes)
            self.deadlines[(det.id, event.entity)] = event.time + timedelta(minutes=minutes)
            self._n += 1
            heapq.heappush(self.timers, (event.time + timedelta(minutes=minutes * det.warn_at),
                                         self._n, det.id, event.entity))
            return None
        if det.metric is not None and attrs.get("metric") != det.metric:
            return None
        value = _number(attrs.get(det.field))
        if value is None:
            return None
        if isinstance(det, ThresholdDetector):
            if (det.above is not None and value > det.above) or \
                    (det.below is not None and value < det.below):
                return self._situation(det, event, dict(attrs))
            return None
        key = (det.id, event.entity, det.metric or det.field)
        window = self.series.setdefault(key, deque())
        if isinstance(det, RateOfChangeDetector):
            horizon = event.time - timedelta(minutes=det.window_minutes)
            while window and window[0][0] < horizon:
                window.popleft()
            base = window[0][1] if window else None
            window.append((event.time, value))
            if base is not None and base > 0 and value >= det.factor * base:
                return self._situation(det, event, dict(attrs, baseline=base,
                                                        factor=round(value / base, 3)))
            return None
        assert isinstance(det, AnomalyDetector)
        values = [v for _, v in window]
        window.append((event.time, value))
        if len(window) > det.window:
            window.popleft()
        if len(values) < det.min_samples:
            return None
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        deviation = value - mean
        if det.direction == "up":
            deviation = max(deviation, 0.0)
        elif det.direction == "down":
            deviation = max(-deviation, 0.0)
        if std > 0 and abs(deviation) > det.z * std:
            return self._situation(det, event, dict(attrs, mean=round(mean, 3),
                                                    zscore=round((value - mean) / std, 2)))
        return None

    def _situation(self, det: Detector, event: Event, facts: dict[str, Any],
                   when: datetime | None = None, suffix: str = "") -> Situation:
        at = when or event.time
        facts.update(self.facts_for(event.entity, at))
        if event.type in ("access.grant", "credential.leak"):
            facts.setdefault("grant", event.entity)
            facts["credential_leaked"] = event.type == "credential.leak"
        severity = det.severity
        if det.severity_from_tier and isinstance(facts.get("tier"), int):
            severity = int(facts["tier"])
        sid = f"S:{det.id}:{event.key}" + (f":{suffix}" if suffix else "")
        return Situation.model_construct(
            id=sid, kind=det.situation, entity=event.entity, domain=det.domain,
            detector=det.id, severity=severity, time=at, event_ids=[event.key], facts=facts)
