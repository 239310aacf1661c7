"""`baton bench`: governed decisions per second through the whole pipeline, and the floor.

The floor is the same Cedar batch evaluations plus the same ledger rows written, without
the engine around them: what the pipeline would cost if everything else were free.
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from baton.config import (
    Config,
    Coordination,
    HttpTarget,
    MatchDetector,
    Playbooks,
    Settings,
    ThresholdDetector,
)
from baton.connectors import build_connectors
from baton.engine.pipeline import Engine
from baton.execution.port import Connector
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


def bench_events(count: int, services: int, seed: int, *, prefix: str = "b",
                 start_hour: int = 0) -> list[Event]:
    """Events that each raise one situation: outages and saturation spread over services."""
    rng = random.Random(seed)
    start = datetime(2026, 3, 2, tzinfo=UTC) + timedelta(hours=start_hour)
    # Each service sees an event at most once per hour, so none is a duplicate.
    per_hour = services
    out = []
    for i in range(count):
        svc = f"svc-{i % services:05d}"
        at = start + timedelta(hours=i // per_hour, seconds=(i % per_hour) * 3600 / per_hour)
        if rng.random() < 0.5:
            out.append(Event(key=f"{prefix}{i}", type="service.down", entity=svc, time=at))
        else:
            out.append(Event(key=f"{prefix}{i}", type="alert", entity=svc, time=at,
                             attrs={"metric": "cpu_util", "value": 0.95}))
    return out


def _measure(config: Config, load: list[Event], tmp: Path, name: str, *, batch: int,
             connectors: dict[str, Connector] | None = None,
             wait_effects: bool = True) -> tuple[Engine, dict[str, Any], RecordingGate]:
    """Process `load` in batches on a live engine; decisions/s and latency percentiles."""
    store = open_store(tmp / f"{name}.db")
    engine = Engine(config, store=store, live=True, stamp=lambda e: e.due,
                    connectors=connectors or build_connectors(config))
    gate = RecordingGate(engine.gate.book, engine.gate.entities)
    gate.batches = []
    engine.gate = gate
    t0 = time.perf_counter()
    for i in range(0, len(load), batch):
        engine.ingest(load[i:i + batch])
        engine.process_pending(batch=batch)
    elapsed = time.perf_counter() - t0
    backlog = engine.pool.busy() if engine.pool is not None else 0
    if wait_effects:
        engine.settle()
    else:
        assert engine.pool is not None
        engine.pool.close(wait=0.0, abandon=True)
    latencies = store.engine_ms()
    decisions = engine.stats.decisions
    out = {"decisions": decisions, "seconds": round(elapsed, 3),
           "decisions_per_s": round(decisions / elapsed, 1),
           "p50_ms": round(percentile(latencies, 50), 4),
           "p99_ms": round(percentile(latencies, 99), 4),
           "effects_in_flight_at_end": backlog}
    return engine, out, gate


def run_bench(*, events: int = 20000, services: int = 2000, seed: int = 1,
              batch: int = 500, slow: bool = True) -> dict[str, Any]:
    """Measure the pipeline and the floor on the same synthetic load, then the same load
    against a slow, flaky HTTP target."""
    config = bench_config(services)
    load = bench_events(events, services, seed)
    with tempfile.TemporaryDirectory() as tmp:
        engine, fast, gate = _measure(config, load, Path(tmp), "bench", batch=batch)
        store = engine.store
        decisions = engine.stats.decisions
        rows = list(store.ledger_rows())
        decided = {d["id"]: d for d in store.decisions(limit=decisions)}
        engine.close()
        store.close()

        floor_store = open_store(Path(tmp) / "floor.db")
        from baton.model import Decision

        records = [Decision.model_validate({k: v for k, v in decided[r.record_id].items()
                                            if k in Decision.model_fields})
                   for r in rows if r.record_id in decided]
        requests = [r for b in gate.batches for r in b]
        t1 = time.perf_counter()
        for i in range(0, len(requests), 500):  # the same questions, asked 500 at a time
            Gate.evaluate(gate, requests[i:i + 500])
        per_commit = max(1, len(rows) * batch // max(1, len(load)))
        by_id = {d.id: d for d in records}
        for i in range(0, len(rows), per_commit):
            chunk = rows[i:i + per_commit]
            floor_store.commit(Step(ledger=chunk, decisions=[
                (by_id[r.record_id], 0.0) for r in chunk if r.record_id in by_id]))
        floor_elapsed = time.perf_counter() - t1
        floor_store.close()
        result: dict[str, Any] = {
            "events": events,
            "services": services,
            "decisions": decisions,
            "verdicts": dict(engine.stats.verdicts),
            "seconds": fast["seconds"],
            "decisions_per_s": fast["decisions_per_s"],
            "floor_seconds": round(floor_elapsed, 3),
            "floor_decisions_per_s": round(decisions / floor_elapsed, 1),
            "share_of_floor": round(floor_elapsed / fast["seconds"], 3),
            "p50_ms": fast["p50_ms"],
            "p99_ms": fast["p99_ms"],
            "cedar_batches": len(gate.batches),
            "cedar_requests": len(requests),
        }
        if slow:
            result["slow_target"] = _slow_target(config, load, Path(tmp), batch=batch,
                                                 seed=seed)
            result["slow_target"]["throughput_vs_fast"] = round(
                fast["decisions_per_s"] / max(1e-9, result["slow_target"]["decisions_per_s"]),
                3)
    return result


class _SlowTarget(BaseHTTPRequestHandler):
    """Answers every action after 2 s; one in five fails (chosen by its key, seeded)."""

    delay_s = 2.0
    fail_share = 0.2

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        time.sleep(self.delay_s)
        key = self.headers.get("Idempotency-Key", "")
        failing = random.Random(key).random() < self.fail_share
        self.send_response(503 if failing else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def _slow_target(config: Config, load: list[Event], tmp: Path, *, batch: int,
                 seed: int) -> dict[str, Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowTarget)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/actions"
    routes = config.settings.connectors.model_copy(update={
        "default": "http", "http": HttpTarget(url=url, timeout_s=5.0, retries=1,
                                              backoff_s=0.2)})
    slow_config = config.model_copy(update={"settings": config.settings.model_copy(
        update={"connectors": routes})})
    try:
        engine, out, _ = _measure(slow_config, load, tmp, "slow", batch=batch,
                                  connectors=build_connectors(slow_config, seed=seed),
                                  wait_effects=False)
        done = engine.store.effect_counts()
        out["effects_done_during_run"] = done.get("done", 0) + done.get("failed", 0)
        engine.store.close()
    finally:
        server.shutdown()
        server.server_close()
    out["target"] = "answers after 2 s, fails 20% (HTTP 503)"
    return out


def print_bench(result: dict[str, Any], console: Console) -> None:
    """The benchmark as a table."""
    table = Table("measure", "value", title="baton bench")
    for key, value in result.items():
        if isinstance(value, dict) and key != "verdicts":
            for sub, v in value.items():
                table.add_row(f"{key}.{sub}", str(v))
        else:
            table.add_row(key, str(value))
    console.print(table)
