"""`baton replay`: a recorded log through the engine in shadow mode, in the log's own time."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
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
from baton.replay.mapping import LoadedMapping, TimeColumn, load_mapping
from baton.replay.reader import read_rows
from baton.scenarios import scenario_path
from baton.store import open_store

ISO = "%Y-%m-%dT%H:%M:%S%z"


@dataclass
class Replayed:
    """What a replay produced: the cases, the engine's decision per case, timings."""

    cases: list[Case]
    decisions: dict[str, dict[str, Any]]  # case id -> group, confidence, verdict, latency_s
    engine: Engine
    seconds: dict[str, float]


class _Times:
    """Parses timestamps once per distinct text (logs repeat them a lot)."""

    def __init__(self) -> None:
        self.seen: dict[tuple[int, str], str] = {}

    def iso(self, spec: TimeColumn, text: str) -> str:
        key = (id(spec), text)
        found = self.seen.get(key)
        if found is None:
            found = self.seen[key] = spec.parse(text).strftime(ISO) if text else ""
        return found


@lru_cache(maxsize=1 << 18)
def _from_iso(text: str) -> datetime:
    return datetime.strptime(text, ISO)


def _rows(log: Path, loaded: LoadedMapping) -> list[dict[str, str]]:
    m = loaded.mapping
    times = _Times()
    specs = [s for s in (m.updated_at, m.opened_at, m.resolved_at, m.closed_at) if s]
    rows = []
    for n, values in read_rows(log, loaded):
        for spec in specs:
            values[spec.column] = times.iso(spec, values[spec.column])
        values["__row"] = str(n)
        rows.append(values)
    return rows


def _events(rows: list[dict[str, str]], cases: list[Case],
            loaded: LoadedMapping) -> list[Event]:
    m = loaded.mapping
    known = {c.id for c in cases}
    out: list[tuple[datetime, int, Event]] = []
    for i, c in enumerate(cases):
        out.append((c.opened_at, 0, Event(key=f"{c.id}:opened", type="case.opened",
                                          entity=c.id, time=c.opened_at,
                                          attrs=dict(c.open_attrs), source=m.name)))
        out.append((c.closed_at, 2, Event(key=f"{c.id}:closed", type="case.resolved",
                                          entity=c.id, time=c.closed_at,
                                          attrs={"group": c.final_group}, source=m.name)))
        del i
    for values in rows:
        case = values[m.case]
        if case not in known:
            continue
        at = _from_iso(values[m.updated_at.column])
        out.append((at, 1, Event(key=f"{case}:row{values['__row']}", type="case.updated",
                                 entity=case, time=at, source=m.name,
                                 attrs={"state": values[m.state], "group": values[m.group]})))
    out.sort(key=lambda item: (item[0], item[1], item[2].key))
    return [event for _, _, event in out]


def learned_router(cases: list[Case]) -> Router:
    """Decisions of the learned router, rolling through the cases in virtual time."""
    from baton.learn.routing import RollingRouter

    return RollingRouterDecisions({d.case_id: (d.group or "", d.confidence, d.trained_until)
                                   for d in RollingRouter().replay(cases)})


def replay(log: Path, mapping: str, *, db: Path, router: Router | None = None,
           progress: Callable[[int, int], None] | None = None) -> Replayed:
    """Replay `log` read through `mapping` into a fresh database `db`; never acts."""
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    loaded = load_mapping(mapping)
    m = loaded.mapping
    rows = _rows(log, loaded)
    columns = CaseColumns(case_id=m.case, opened_at=m.opened_at.column,
                          updated_at=m.updated_at.column, group=m.group,
                          resolved_at=m.resolved_at.column if m.resolved_at else None,
                          closed_at=(m.closed_at or m.resolved_at).column,  # type: ignore[union-attr]
                          reassignment_count=m.reassignment_count,
                          open_attrs=tuple(m.open_attributes))
    cases = cases_from_rows(rows, columns, time_format=ISO)
    events = _events(rows, cases, loaded)
    seconds["read"] = time.perf_counter() - t0

    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    root = scenario_path("shadow_routing")
    config = load_config(root)
    store = open_store(db)
    from baton.store import Step

    store.commit(Step(settings={"mode": "replay", "clock": "virtual", "config": str(root),
                                "log": str(log), "mapping": m.name}))
    if router is None:
        t2 = time.perf_counter()
        router = learned_router(cases)
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
    seconds["total"] = time.perf_counter() - t0
    return Replayed(cases, decisions, engine, seconds)
