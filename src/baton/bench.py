"""`baton bench`: governed decisions per second through the whole pipeline, and the floor.

The floor is the same Cedar batch evaluations plus the same ledger rows written, without
the engine around them: what the pipeline would cost if everything else were free.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from baton.config import (
    Config,
    Coordination,
    MatchDetector,
    Playbooks,
    Settings,
    ThresholdDetector,
)
from baton.connectors import build_connectors
from baton.engine.pipeline import Engine
from baton.governance.gate import Gate, GateRequest
from baton.model import Event, Verdict
from baton.org.model import Organisation
from baton.scaffold import FILES
from baton.sim.summary import percentile
from baton.store import Step, open_store
from baton.yamlsrc import parse_yaml


class RecordingGate(Gate):
    """A gate that keeps every batch it judged, so the floor can replay them."""

    batches: list[list[GateRequest]]

    def evaluate(self, requests: list[GateRequest]) -> list[Verdict]:
        """Ask Cedar and remember the batch."""
        self.batches.append(list(requests))
        return super().evaluate(requests)


def bench_config(services: int) -> Config:
    """A flat organisation of `services` services with the starter playbooks and policies."""
    org_doc = parse_yaml(FILES["org.yaml"], "bench-org").data
    org_doc["services"] = [{"id": f"svc-{i:05d}", "tier": i % 4, "team": "platform",
                            "hourly_cost": 1.0} for i in range(services)]
    org = Organisation.model_validate(org_doc)
    settings = Settings(
        name="bench",
        detectors=[
            MatchDetector(id="down", kind="match", event="service.down",
                          situation="service_down", domain="reliability",
                          severity_from_tier=True),
            ThresholdDetector(id="cpu", kind="threshold", event="alert", metric="cpu_util",
                              above=0.9, situation="saturation", domain="reliability"),
        ],
        coordination=Coordination(correlation_minutes=30, conflict_minutes=30))
    playbooks = parse_yaml(FILES["playbooks.yaml"], "bench-playbooks").validate(Playbooks)
    policies = [(name, text) for name, text in FILES.items() if name.endswith(".cedar")]
    # A big budget so scale-outs stay autonomous; the mix of verdicts comes from tiers.
    org = org.model_copy(update={"budgets": [b.model_copy(update={"daily": 10**9})
                                             for b in org.budgets]})
    return Config(root=Path("bench"), settings=settings, org=org, playbooks=playbooks,
                  policies=policies)


def bench_events(count: int, services: int, seed: int) -> list[Event]:
    """Events that each raise one situation: outages and saturation spread over services."""
    rng = random.Random(seed)
    start = datetime(2026, 3, 2, tzinfo=UTC)
    # Each service sees an event at most once per hour, so none is a duplicate.
    per_hour = services
    out = []
    for i in range(count):
        svc = f"svc-{i % services:05d}"
        at = start + timedelta(hours=i // per_hour, seconds=(i % per_hour) * 3600 / per_hour)
        if rng.random() < 0.5:
            out.append(Event(key=f"b{i}", type="service.down", entity=svc, time=at))
        else:
            out.append(Event(key=f"b{i}", type="alert", entity=svc, time=at,
                             attrs={"metric": "cpu_util", "value": 0.95}))
    return out


def run_bench(*, events: int = 20000, services: int = 2000, seed: int = 1,
              batch: int = 500) -> dict[str, Any]:
    """Measure the pipeline and the floor on the same synthetic load."""
    config = bench_config(services)
    load = bench_events(events, services, seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "bench.db")
        engine = Engine(config, store=store, connectors=build_connectors(config))
        gate = RecordingGate(engine.gate.book, engine.gate.entities)
        gate.batches = []
        engine.gate = gate
        t0 = time.perf_counter()
        for i in range(0, len(load), batch):
            engine.ingest(load[i:i + batch])
            engine.process_pending(batch=batch)
        elapsed = time.perf_counter() - t0
        decisions = engine.stats.decisions
        latencies = store.engine_ms()
        rows = list(store.ledger_rows())
        decided = store.decisions(limit=decisions)
        store.close()

        floor_store = open_store(Path(tmp) / "floor.db")
        by_id = {d["id"]: d for d in decided}
        from baton.model import Decision

        records = [Decision.model_validate({k: v for k, v in by_id[r.record_id].items()
                                            if k in Decision.model_fields}) for r in rows]
        t1 = time.perf_counter()
        for requests in gate.batches:
            Gate.evaluate(gate, requests)
        per_commit = max(1, len(rows) * batch // max(1, len(load)))
        for i in range(0, len(rows), per_commit):
            floor_store.commit(Step(ledger=rows[i:i + per_commit],
                                    decisions=[(d, 0.0) for d in records[i:i + per_commit]]))
        floor_elapsed = time.perf_counter() - t1
        floor_store.close()
    stats = engine.stats
    return {
        "events": events,
        "services": services,
        "decisions": decisions,
        "verdicts": dict(stats.verdicts),
        "seconds": round(elapsed, 3),
        "decisions_per_s": round(decisions / elapsed, 1),
        "floor_seconds": round(floor_elapsed, 3),
        "floor_decisions_per_s": round(decisions / floor_elapsed, 1),
        "share_of_floor": round(floor_elapsed / elapsed, 3),
        "p50_ms": round(percentile(latencies, 50), 4),
        "p99_ms": round(percentile(latencies, 99), 4),
        "cedar_batches": len(gate.batches),
        "cedar_requests": sum(len(b) for b in gate.batches),
    }


def print_bench(result: dict[str, Any], console: Console) -> None:
    """The benchmark as a table."""
    table = Table("measure", "value", title="baton bench")
    for key, value in result.items():
        table.add_row(key, str(value))
    console.print(table)
