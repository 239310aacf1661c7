"""`baton replay`: a recorded log through the engine in shadow mode, in the log's own time."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from baton.config import load_config
from baton.connectors import build_connectors
from baton.engine.pipeline import Engine
from baton.learn.cases import Case, CaseColumns, cases_from_rows
from baton.model import Event
from baton.replay.agent import RollingRouterDecisions, Router, RoutingAgent
from baton.replay.honesty import check_rows, leaks
from baton.replay.mapping import LoadedMapping, RoutingSettings, load_mapping
from baton.replay.plan import Plan, plan_for
from baton.replay.reader import ISO, read_rows, time_key
from baton.scenarios import scenario_path
from baton.store import open_store


@dataclass
class Replayed:
    """What a replay produced: the cases, the engine's decision per case, timings."""

    cases: list[Case]
    decisions: dict[str, dict[str, Any]]  # case id -> group, confidence, verdict, latency_s
    engine: Engine
    seconds: dict[str, float]
    loaded: LoadedMapping | None = None
    plan: Plan | None = None
    refusals: list[str] = field(default_factory=list)  # why the router could not fit
    warnings: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    route_moves: dict[str, int] = field(default_factory=dict)  # stable routes kept / moved


@lru_cache(maxsize=1 << 18)
def _from_iso(text: str) -> datetime:
    return datetime.strptime(text, ISO)


def _rows(log: Path, loaded: LoadedMapping) -> list[dict[str, str]]:
    rows = []
    for n, values in read_rows(log, loaded):
        values["__row"] = str(n)
        rows.append(values)
    return rows


def _columns(loaded: LoadedMapping) -> CaseColumns:
    m = loaded.mapping
    return CaseColumns(
        case_id=m.case, updated_at=time_key("updated_at"), group=m.group,
        opened_at=time_key("opened_at") if m.opened_at else None,
        resolved_at=time_key("resolved_at") if m.resolved_at else None,
        closed_at=time_key("closed_at") if m.closed_at else None,
        reassignment_count=m.reassignment_count, open_attrs=tuple(m.open_attributes),
        state=m.state, resolved_states=frozenset(m.resolved_states),
        waiting_states=frozenset(m.waiting_states))


def _events(rows: list[dict[str, str]], cases: list[Case],
            loaded: LoadedMapping) -> list[Event]:
    m = loaded.mapping
    known = {c.id for c in cases}
    out: list[tuple[datetime, int, Event]] = []
    for c in cases:
        out.append((c.opened_at, 0, Event(key=f"{c.id}:opened", type="case.opened",
                                          entity=c.id, time=c.opened_at,
                                          attrs=dict(c.open_attrs), source=m.name)))
        out.append((c.closed_at, 2, Event(key=f"{c.id}:closed", type="case.resolved",
                                          entity=c.id, time=c.closed_at,
                                          attrs={"group": c.final_group}, source=m.name)))
    for values in rows:
        case = values[m.case]
        if case not in known:
            continue
        at = _from_iso(values[time_key("updated_at")])
        group = values[m.group] if m.group else ""
        out.append((at, 1, Event(key=f"{case}:row{values['__row']}", type="case.updated",
                                 entity=case, time=at, source=m.name,
                                 attrs={"state": values[m.state], "group": group})))
    out.sort(key=lambda item: (item[0], item[1], item[2].key))
    return [event for _, _, event in out]


def learned_router(cases: list[Case], plan: Plan | None = None,
                   refusals: list[str] | None = None) -> Router:
    """Decisions of the learned router, rolling through the cases in virtual time."""
    from baton.learn.routing import RollingRouter

    plan = plan or plan_for(cases, RoutingSettings())
    rolling = RollingRouter(plan.config, every=plan.every,
                            min_new_outcomes=plan.min_new_outcomes,
                            stable_alpha=plan.stable_alpha, stable_floor=plan.stable_floor,
                            stable_young=plan.stable_young,
                            stable_young_alpha=plan.stable_young_alpha)
    decisions = rolling.replay(cases)
    if refusals is not None:
        refusals.extend(rolling.refusals)
    return RollingRouterDecisions(
        {d.case_id: (d.group or "", d.confidence, d.trained_until) for d in decisions},
        model_groups={d.case_id: d.model_group for d in decisions if d.model_group},
        moves=dict(rolling.stable.moves) if rolling.stable is not None else {})


class _NoRoutes:
    """The router of a log without a handling group: it never proposes a group."""

    def learn(self, attrs: dict[str, str], group: str, at: datetime) -> None:
        """Nothing to learn from."""

    def predict(self, case: str, attrs: dict[str, str], at: datetime) -> tuple[str, float]:
        """No group."""
        return "", 0.0


def replay(log: Path, mapping: str, *, db: Path, router: Router | None = None,
           progress: Callable[[int, int], None] | None = None,
           settings: dict[str, Any] | None = None) -> Replayed:
    """Replay `log` read through `mapping` into a fresh database `db`; never acts.

    `settings` overrides the mapping's `routing` settings (as the CLI options do).
    """
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    loaded = load_mapping(mapping)
    m = loaded.mapping
    rows = _rows(log, loaded)
    check_rows(rows, loaded)
    skipped: Counter[str] = Counter()
    cases = cases_from_rows(rows, _columns(loaded), time_format=ISO, skipped=skipped)
    events = _events(rows, cases, loaded)
    chosen = m.routing.model_copy(update={k: v for k, v in (settings or {}).items()
                                          if v is not None})
    plan = plan_for(cases, RoutingSettings.model_validate(chosen.model_dump()))
    warnings = leaks(cases, m.open_attributes) if m.group else []
    seconds["read"] = time.perf_counter() - t0

    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    root = scenario_path("shadow_routing")
    config = load_config(root)
    store = open_store(db)
    from baton.store import Step

    store.commit(Step(settings={"mode": "replay", "clock": "virtual", "config": str(root),
                                "log": str(log), "mapping": m.name}))
    refusals: list[str] = []
    if m.group is None:
        router = _NoRoutes()
    elif router is None:
        t2 = time.perf_counter()
        router = learned_router(cases, plan, refusals)
        seconds["learn"] = time.perf_counter() - t2
    agent = RoutingAgent(router, domain=m.domain)
    engine = Engine(config, store=store, connectors=build_connectors(config, store=store),
                    agents=[agent])
    t1 = time.perf_counter()
    batch = 5000
    for i in range(0, len(events), batch):
        engine.ingest(events[i:i + batch])
        engine.process_pending(batch=batch)
        if progress is not None:
            progress(min(i + batch, len(events)), len(events))
    seconds["engine"] = time.perf_counter() - t1
    model_groups = router.model_groups if isinstance(router, RollingRouterDecisions) else {}
    decisions: dict[str, dict[str, Any]] = {}
    for record in store.decisions(limit=len(cases) * 2 + 10,
                                  filters={"situation_kind": "case_opened"}):
        action = record.get("action") or {}
        verdict = record.get("verdict") or {}
        group = (action.get("params") or {}).get("group")
        if group is None:
            continue
        decisions[record["entity"]] = {
            "group": group, "confidence": agent.predictions[record["entity"]][1],
            "verdict": verdict.get("kind"), "latency_s": record["latency_s"],
            "engine_ms": record["engine_ms"], "decision": record["id"]}
        if record["entity"] in model_groups:
            decisions[record["entity"]]["model_group"] = model_groups[record["entity"]]
    seconds["total"] = time.perf_counter() - t0
    return Replayed(cases, decisions, engine, seconds, loaded=loaded, plan=plan,
                    refusals=refusals, warnings=warnings, skipped=skipped,
                    route_moves=router.moves if isinstance(router, RollingRouterDecisions)
                    else {})
