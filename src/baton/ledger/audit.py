"""`baton audit verify`: the chain, the tree, the checkpoints and every projection."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import insert, select

from baton.ledger import merkle, tables
from baton.ledger.chain import verify as verify_chain
from baton.ledger.checkpoints import Checkpoint, sql_engine, stored, witnessed
from baton.ledger.policyset import PolicySet
from baton.ledger.projections import Finding, Projections
from baton.ledger.tree import row_leaf
from baton.store.port import Store


@dataclass
class Report:
    """What `audit verify` found: ok, the first problem, and what it covered."""

    rows: int = 0
    head: str = ""
    root: str = merkle.EMPTY_ROOT.hex()
    findings: list[Finding] = field(default_factory=list)
    covered: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what could not be checked, and why

    @property
    def ok(self) -> bool:
        """True when nothing contradicts the ledger."""
        return not self.findings

    @property
    def first(self) -> str:
        """The first problem found, or ''."""
        return str(self.findings[0]) if self.findings else ""


def verify(store: Store, public: Ed25519PublicKey, *, extra: list[tuple[str, Checkpoint]]
           | None = None, witness_dir: Path | None = None,
           replay: Callable[[], str] | None = None,
           policies: PolicySet | None = None) -> Report:
    """Check the hash chain, the Merkle tree against every checkpoint (stored, in the
    witness folder, and `extra`), every projection against the ledger records, the policy
    set in force (`policies`, from the configuration) against the last one recorded, and (with
    `replay`, which says why replaying the log disagrees, or '') the ledger's head."""
    report = Report()
    rows = list(store.ledger_rows())
    report.rows = len(rows)
    chain = verify_chain(rows)
    report.head = chain.head
    if not chain.ok:
        report.findings.append(Finding("ledger", f"row {chain.bad_seq} ({chain.bad_id})",
                                       chain.problem))
    records: list[tuple[int, str, dict[str, Any]]] = []
    for row in rows:
        try:
            body = orjson.loads(row.body)
        except orjson.JSONDecodeError as exc:
            report.findings.append(Finding("ledger", f"row {row.seq} ({row.record_id})",
                                           f"body is not JSON ({exc})"))
            continue
        if isinstance(body, dict) and body.get("id", row.record_id) != row.record_id:
            report.findings.append(Finding("ledger", f"row {row.seq} ({row.record_id})",
                                           f"record_id differs from the id its body holds "
                                           f"({body.get('id')})"))
        records.append((row.seq, row.record_id, body if isinstance(body, dict) else {}))
    leaves = [row_leaf(r) for r in rows]
    report.root = merkle.root(leaves).hex()
    engine = sql_engine(store)
    held = [(f"stored checkpoint {i + 1}", cp) for i, (cp, _, _) in enumerate(stored(store))]
    if witness_dir is not None and witness_dir.is_dir():
        held += [(f"witness file {p.name}", cp) for p, cp in witnessed(witness_dir)]
    held += extra or []
    for name, cp in held:
        problem = against(cp, leaves, public)
        if problem:
            report.findings.append(Finding("checkpoint", name, problem))
    report.covered = {"ledger rows": len(rows), "checkpoints": len(held)}
    projections = Projections(store, engine, records, policies)
    report.findings += projections.run()
    report.covered.update(projections.covered)
    if replay is not None:
        problem = replay()
        if problem:
            report.findings.append(Finding("ledger", "replay", problem))
        report.covered["replayed"] = 1
    return report


def against(cp: Checkpoint, leaves: list[bytes], public: Ed25519PublicKey) -> str:
    """Why the tree of `leaves` contradicts checkpoint `cp` ('' when it does not)."""
    if not cp.signed_by(public):
        return f"signature of the checkpoint of {cp.time} does not verify with this key"
    if cp.size > len(leaves):
        return (f"signed at {cp.time} over {cp.size} rows, but the ledger holds "
                f"{len(leaves)}: rows {len(leaves) + 1}..{cp.size} were removed")
    if merkle.root(leaves, 0, cp.size).hex() != cp.root:
        return (f"signed at {cp.time}: rows 1..{cp.size} no longer hash to its root "
                f"{cp.root[:16]} (rewritten, reordered or removed since)")
    return ""


def record_run(store: Store, report: Report, at: datetime) -> None:
    """Keep the outcome of one verification (the dashboard shows the last)."""
    with sql_engine(store).begin() as conn:
        conn.execute(insert(tables.runs).values(
            time=at.isoformat(), ok=report.ok, rows=report.rows,
            covered=json.dumps({"counts": report.covered, "notes": report.notes}),
            problem=report.first[:2000]))


def last_run(store: Store) -> dict[str, Any] | None:
    """The latest verification: time, ok, rows, what it covered (and did not), its first
    problem."""
    r = tables.runs.c
    with sql_engine(store).connect() as conn:
        row = conn.execute(select(r.time, r.ok, r.rows, r.covered, r.problem)
                           .order_by(r.id.desc()).limit(1)).first()
    if row is None:
        return None
    covered = json.loads(row[3])
    return {"time": row[0], "ok": bool(row[1]), "rows": row[2], "covered": covered["counts"],
            "notes": covered["notes"], "problem": row[4]}
