"""A ledger with every kind of record the audit checks, and edits made behind its back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, update

from baton.audit import replay_problem
from baton.config import Config
from baton.connectors import build_connectors
from baton.engine.pipeline import Engine
from baton.ledger import audit, checkpoints, signing
from baton.ledger.chain import GENESIS, LedgerRow, link
from baton.model import Event
from baton.store import open_store
from baton.store import schema as t
from baton.store.port import Step
from baton.store.sql import SqlStore
from conftest import T0

NOW = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)  # when checkpoints are signed in these tests


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


FIRST = [Event(key="e1", type="service.down", entity="api", time=T0)]
LATER = [
    Event(key="e2", type="service.down", entity="db", time=at(180)),
    Event(key="e3", type="alert", entity="worker", time=at(360),
          attrs={"metric": "cpu_util", "value": 0.95}),
    Event(key="k1", type="baton.kill_switch", entity="baton", time=at(400),
          attrs={"enabled": True, "by": "ana"}),
    Event(key="o1", type="baton.objectives", entity="baton", time=at(410),
          attrs={"by": "ana", "cost": 2.0}),
]


@dataclass
class Ledger:
    """A store holding the engine's ledger, its signing key and its witness folder."""

    store: SqlStore
    url: str
    key: Any
    witness: Path
    config: Config

    def rows(self) -> list[LedgerRow]:
        return list(self.store.ledger_rows())

    def checkpoint(self) -> checkpoints.Checkpoint:
        return checkpoints.take(self.store, self.key, NOW, witness_dir=self.witness)

    def verify(self, **kw: Any) -> audit.Report:
        """Everything `baton audit verify` checks, the replay included."""
        return audit.verify(self.store, self.key.public_key(), witness_dir=self.witness,
                            replay=lambda: replay_problem(self.store, self.config), **kw)

    def execute(self, statement: Any, params: Any = None) -> Any:
        with self.store.engine.begin() as conn:
            return conn.execute(statement, params)

    def set_row(self, seq: int, **values: Any) -> None:
        changed = self.execute(update(t.ledger).where(t.ledger.c.seq == seq).values(**values))
        assert changed.rowcount == 1

    def rechain(self, rows: list[LedgerRow]) -> None:
        """Replace the whole ledger by `rows`, numbered from 1 and chained afresh."""
        self.execute(delete(t.ledger))
        previous = GENESIS
        fresh = []
        for i, row in enumerate(rows, start=1):
            digest = link(previous, row.body)
            fresh.append({"seq": i, "record_id": row.record_id, "body": row.body,
                          "prev_hash": previous, "hash": digest})
            previous = digest
        if fresh:
            self.execute(insert(t.ledger), fresh)

    def decision_seq(self, decision_id: str) -> int:
        with self.store.engine.connect() as conn:
            return int(conn.scalar(select(t.decisions.c.seq)
                                   .where(t.decisions.c.id == decision_id)) or 0)


def build(config: Config, url: str, tmp: Path) -> Iterator[Ledger]:
    """Run the engine: an approved escalation, an autonomous restart with its result, a
    scale-out, the kill switch and an objectives change."""
    store = open_store(url)
    store.commit(Step(settings={"clock": "virtual"}))  # how `baton demo` marks its runs
    engine = Engine(config, store=store, connectors=build_connectors(config))
    engine.ingest(FIRST)
    engine.process_pending()
    (esc,) = store.escalations(status="open")
    engine.ingest([Event(key="a1", type="baton.approve", entity=esc.id, time=at(3),
                         attrs={"escalation": esc.id, "by": esc.candidates[0]})])
    engine.ingest(LATER)
    engine.settle(timeout=60)
    engine.close()
    key = signing.load_or_create(tmp / "signing-key.pem")
    try:
        yield Ledger(store, url, key, tmp / "witness", config)
    finally:
        store.close()


def body(row: LedgerRow) -> dict[str, Any]:
    return dict(json.loads(row.body))


def build_db(config: Config, path: Path) -> Path:
    """A SQLite database as `baton demo` leaves one (its configuration remembered), holding
    the ledger of `build`."""
    store = open_store(path)
    store.commit(Step(settings={"config": str(config.root), "clock": "virtual"}))
    store.close()
    for ledger in build(config, str(path), path.parent):
        ledger.store.close()
    return path


def export_key(db: Path, folder: Path) -> Path:
    """The database's public key, exported with `baton audit public-key` to a file."""
    from typer.testing import CliRunner

    from baton.cli import app

    result = CliRunner().invoke(app, ["audit", "public-key", "--db", str(db)])
    assert result.exit_code == 0, result.output
    path = folder / "public.pem"
    path.write_text(result.stdout)
    return path
