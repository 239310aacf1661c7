"""`baton bench audit`: what the Merkle tree and signed checkpoints cost.

Decisions per second with a checkpoint signed after every committed batch (the worst
case; live runs sign one per `audit.checkpoint_minutes`) against none, on the same load
in one run; then, on a ledger of a million records, the time to sign a checkpoint (from
scratch and after more rows), and a proof bundle's size and verification time. Each
decisions run also times the projection check a live run makes (every table people read
against the ledger) on the ledger it left.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from baton.bench import bench_config, bench_events
from baton.connectors import build_connectors
from baton.engine.pipeline import Engine
from baton.ledger import checkpoints, consistency, proofs, signing, watch
from baton.ledger.writer import LedgerWriter
from baton.store import Step, open_store
from baton.store.sql import SqlStore

AT = datetime(2026, 3, 2, tzinfo=UTC)


def _decisions_per_s(tmp: Path, name: str, *, events: int, services: int, seed: int,
                     batch: int, sign: bool) -> dict[str, Any]:
    config = bench_config(services)
    load = bench_events(events, services, seed)
    store = open_store(tmp / f"{name}.db")
    key = signing.load_or_create(tmp / f"{name}.pem")
    engine = Engine(config, store=store, live=True, stamp=lambda e: e.due,
                    connectors=build_connectors(config))
    signed = 0
    signing_s = 0.0
    t0 = time.perf_counter()
    for i in range(0, len(load), batch):
        engine.ingest(load[i:i + batch])
        engine.process_pending(batch=batch)
        if sign:
            t1 = time.perf_counter()
            checkpoints.take(store, key, AT)
            signing_s += time.perf_counter() - t1
            signed += 1
    elapsed = time.perf_counter() - t0
    decisions = engine.stats.decisions
    engine.settle()
    engine.close()
    t2 = time.perf_counter()
    found = watch.check(store)  # what a live run's projection check costs on this ledger
    check_s = time.perf_counter() - t2
    assert not found, found[:3]
    rows = store.ledger_head()[0]
    store.close()
    return {"decisions": decisions, "seconds": round(elapsed, 3),
            "decisions_per_s": round(decisions / elapsed, 1), "checkpoints": signed,
            "checkpoint_seconds": round(signing_s, 3), "ledger_rows": rows,
            "projection_check_s": round(check_s, 3)}


def _big_ledger(path: Path, records: int) -> SqlStore:
    """A SQLite ledger of `records` decision-sized records, chained as the engine does."""
    store = open_store(path)
    writer = LedgerWriter(0, "0" * 64)
    for start in range(0, records, 20_000):
        rows = []
        for n in range(start, min(records, start + 20_000)):
            rid = f"D-{n:016x}"
            rows.append(writer.append(rid, {
                "record": "decision", "id": rid, "time": "2026-03-02T00:00:00Z",
                "event": f"b{n}", "situation": f"S:down:service.down:svc-{n % 2000:05d}",
                "situation_kind": "service_down", "entity": f"svc-{n % 2000:05d}",
                "domain": "reliability", "decided_by": "reliability-agent",
                "verdict": {"kind": "autonomous", "policy_ids": ["restart-below-tier0"]},
                "outcome": "dispatched", "rationale": "restart clears most outages",
                "event_digest": f"{n:064x}"}))
        store.commit(Step(ledger=rows))
    return store


def _at_scale(tmp: Path, records: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    store = _big_ledger(tmp / "big.db", records)
    built = time.perf_counter() - t0
    key = signing.load_or_create(tmp / "big.pem")
    t1 = time.perf_counter()
    first = checkpoints.take(store, key, AT)
    full = time.perf_counter() - t1
    writer = LedgerWriter(*store.ledger_head())
    store.commit(Step(ledger=[writer.append(f"X-{n:08d}", {"record": "note", "id": f"X-{n:08d}"})
                              for n in range(1000)]))
    t2 = time.perf_counter()
    second = checkpoints.take(store, key, AT)
    incremental = time.perf_counter() - t2
    middle = f"D-{records // 2:016x}"
    t3 = time.perf_counter()
    bundle = proofs.prove(store, key, middle, AT)
    prove_s = time.perf_counter() - t3
    text = json.dumps(bundle)
    t5 = time.perf_counter()
    between = consistency.prove(store, first, second)
    consistency_s = time.perf_counter() - t5
    public = key.public_key()
    assert consistency.check(between, public) == ""
    runs = 200
    t4 = time.perf_counter()
    for _ in range(runs):
        assert proofs.check(bundle, public) == ""
    check_ms = (time.perf_counter() - t4) / runs * 1000.0
    store.close()
    return {"records": records, "ledger_build_s": round(built, 1),
            "checkpoint_from_scratch_s": round(full, 3),
            "checkpoint_after_1000_more_s": round(incremental, 4),
            "tree_sizes": [first.size, second.size],
            "proof_bytes": len(text.encode()), "proof_path_nodes": len(bundle["inclusion"]),
            "record_bytes": len(bundle["record"]["body"].encode()),
            "prove_s": round(prove_s, 4), "check_proof_ms": round(check_ms, 3),
            "consistency_prove_s": round(consistency_s, 4),
            "consistency_nodes": len(between["proof"])}


def run_audit_bench(*, events: int = 20_000, services: int = 2000, seed: int = 1,
                    batch: int = 500, records: int = 1_000_000,
                    rounds: int = 2) -> dict[str, Any]:
    """Decisions/s with and without checkpoints (the best of `rounds` alternated runs of
    each), and checkpoint and proof figures at `records` records."""
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        runs: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
        for n in range(rounds):  # alternated, so a busy moment of the machine hits both
            for sign in (False, True):
                runs[sign].append(_decisions_per_s(
                    tmp, f"{'signed' if sign else 'plain'}{n}", events=events,
                    services=services, seed=seed, batch=batch, sign=sign))
        plain, signed = (max(runs[s], key=lambda r: float(r["decisions_per_s"]))
                         for s in (False, True))
        result: dict[str, Any] = {
            "events": events, "batch": batch, "rounds": rounds,
            "without_checkpoints": plain, "checkpoint_every_batch": signed,
            "throughput_ratio": round(signed["decisions_per_s"]
                                      / max(1e-9, plain["decisions_per_s"]), 3)}
        if records:
            result["at_scale"] = _at_scale(tmp, records)
    return result


def print_audit_bench(result: dict[str, Any], console: Console) -> None:
    """The audit benchmark as a table."""
    table = Table("measure", "value", title="baton bench audit")
    for key, value in result.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                table.add_row(f"{key}.{sub}", str(v))
        else:
            table.add_row(key, str(value))
    console.print(table)
