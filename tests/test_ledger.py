"""The decision ledger: the engine's hash chain verifies, and tampering is found and named."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from typer.testing import CliRunner

from baton.cli import app
from baton.config import Config
from baton.connectors import build_connectors
from baton.engine.pipeline import Engine
from baton.engine.plan import fold_plan
from baton.ledger.chain import GENESIS, LedgerRow, canonical, link, verify
from baton.model import Event
from baton.store import open_store
from baton.store import schema as t
from baton.store.sql import SqlStore
from conftest import T0

#: service.down on api (tier 0: restart needs approval, an escalation opens, walks its chain
#: unanswered and falls back to reject), service.down on db (tier 1: autonomous restart),
#: cpu on worker (scale_out).
EVENTS = [
    Event(key="e1", type="service.down", entity="api", time=T0),
    Event(key="e2", type="service.down", entity="db", time=T0 + timedelta(hours=3)),
    Event(key="e3", type="alert", entity="worker", time=T0 + timedelta(hours=6),
          attrs={"metric": "cpu_util", "value": 0.95}),
]
ROWS = 20  # the policy set in force, the three decisions above, db's joint plan (finops
#           owns a dependent), the two incidents' response assigned to a person, two steps
#           up the chain and the fallback, the results of the three actions carried out
#           (db's restart, the notice to finops, worker's scale-out), the plan updated by
#           the restart's and the notice's results, and the escalation's changes (paged,
#           two steps up, expired), and the restart's outcome once
#           its effect window ended


def run_engine(config: Config, store: SqlStore) -> None:
    """Accept and process EVENTS with the starter configuration."""
    engine = Engine(config, store=store, connectors=build_connectors(config))
    assert engine.ingest(EVENTS) == [True, True, True]
    assert engine.process_pending() == len(EVENTS)


@pytest.fixture
def ledger(starter: Config, store: SqlStore) -> list[LedgerRow]:
    """The rows the engine wrote for EVENTS, read back from the store."""
    run_engine(starter, store)
    rows = list(store.ledger_rows())
    assert len(rows) == ROWS
    return rows


def set_body(store: SqlStore, seq: int, body: str, *, hash_: str | None = None) -> None:
    """Overwrite one stored row's body (and optionally its hash) behind the store's back."""
    values = {"body": body} if hash_ is None else {"body": body, "hash": hash_}
    with store.engine.begin() as conn:
        changed = conn.execute(update(t.ledger).where(t.ledger.c.seq == seq).values(**values))
        assert changed.rowcount == 1


def edited(row: LedgerRow) -> str:
    """The row's body with its outcome rewritten, still canonical JSON."""
    body = json.loads(row.body)
    body["outcome"] = "tampered"
    text = canonical(body)
    assert text != row.body
    return text


def test_the_engine_records_the_expected_decisions(ledger: list[LedgerRow]) -> None:
    bodies = [json.loads(r.body) for r in ledger]
    decisions = [b for b in bodies if b.get("record") == "decision"]
    assert [(b["entity"], b["outcome"]) for b in decisions] == [
        ("api", "escalated"), ("1 items", "assigned 1"), ("api", "escalated to team_lead"),
        ("api", "escalated to domain_owner"), ("api", "fallback: rejected"),
        ("db", "dispatched"), ("db", "planned"), ("1 items", "assigned 1"),
        ("db", "plan updated"), ("db", "plan updated"), ("worker", "dispatched")]
    assert decisions[0]["verdict"]["kind"] == "approval"
    assert decisions[5]["action"]["kind"] == "restart"
    # each dispatched action's result follows, bound to its decision by its key
    results = [b for b in bodies if b.get("record") == "result"]
    assert sorted((r["kind"], r["status"]) for r in results) == [
        ("notify_team", "done"), ("restart", "done"), ("scale_out", "done")]
    restart = next(r for r in results if r["kind"] == "restart")
    assert restart["decision"] == decisions[5]["id"]
    assert restart["key"] == f"{decisions[5]['id']}:restart:db"
    assert decisions[5]["verdict"]["kind"] == "autonomous"
    assert [s["action"] for s in decisions[6]["plan"]["steps"]] == ["restart", "notify_team"]
    # the plan's later records show the steps that changed: together, the whole plan
    assert [s["status"] for s in decisions[8]["plan"]["steps"]] == ["executed"]
    assert [s["status"] for s in decisions[9]["plan"]["steps"]] == ["executed"]
    whole = fold_plan([decisions[i]["plan"] for i in (6, 8, 9)])
    assert whole is not None and [s["status"] for s in whole["steps"]] == ["executed"] * 2
    assert decisions[10]["action"]["kind"] == "scale_out"
    assert [r.record_id for r in ledger] == [b["id"] for b in bodies]


def test_an_untouched_ledger_verifies_and_its_head_is_the_stored_head(
        ledger: list[LedgerRow], store: SqlStore) -> None:
    result = verify(store.ledger_rows())
    assert result.ok
    assert result.rows == ROWS
    assert (ROWS, result.head) == store.ledger_head()
    assert result.bad_seq is None


def test_every_row_links_to_the_one_before(ledger: list[LedgerRow]) -> None:
    previous = GENESIS
    for row in ledger:
        assert row.prev_hash == previous
        assert row.hash == link(previous, row.body)
        previous = row.hash


@pytest.mark.parametrize("index", range(ROWS))
def test_editing_any_rows_body_is_found_at_that_row(
        index: int, ledger: list[LedgerRow], store: SqlStore) -> None:
    row = ledger[index]
    set_body(store, row.seq, edited(row))

    result = verify(store.ledger_rows())
    assert not result.ok
    assert (result.bad_seq, result.bad_id) == (row.seq, row.record_id)
    assert "content does not match" in result.problem


@pytest.mark.parametrize("index", range(ROWS - 1))
def test_editing_a_body_and_recomputing_its_hash_is_found_at_the_next_rows_link(
        index: int, ledger: list[LedgerRow], store: SqlStore) -> None:
    row, following = ledger[index], ledger[index + 1]
    body = edited(row)
    set_body(store, row.seq, body, hash_=link(row.prev_hash, body))

    result = verify(store.ledger_rows())
    assert not result.ok
    assert (result.bad_seq, result.bad_id) == (following.seq, following.record_id)
    assert "link broken" in result.problem


def test_rewriting_the_last_row_with_its_hash_escapes_the_chain_but_not_a_kept_head(
        ledger: list[LedgerRow], store: SqlStore) -> None:
    # The limit of a bare hash chain: nothing follows the last row, so an edit to it with
    # a recomputed hash is self-consistent. Only a head recorded elsewhere (the one
    # `audit verify` prints) exposes it.
    last = ledger[-1]
    body = edited(last)
    set_body(store, last.seq, body, hash_=link(last.prev_hash, body))

    result = verify(store.ledger_rows())
    assert result.ok
    assert result.head != last.hash


@pytest.mark.parametrize("index", range(1, ROWS - 1))
def test_deleting_a_middle_row_is_found_at_the_row_after_it(
        index: int, ledger: list[LedgerRow], store: SqlStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(delete(t.ledger).where(t.ledger.c.seq == ledger[index].seq))
    following = ledger[index + 1]

    result = verify(store.ledger_rows())
    assert not result.ok
    assert (result.bad_seq, result.bad_id) == (following.seq, following.record_id)
    assert "sequence gap" in result.problem


@pytest.mark.parametrize(("a", "b"), [(0, 1), (1, 3), (0, ROWS - 1)])
def test_swapping_two_rows_bodies_is_found_at_the_earlier_row(
        a: int, b: int, ledger: list[LedgerRow], store: SqlStore) -> None:
    first, second = ledger[a], ledger[b]
    set_body(store, first.seq, second.body)
    set_body(store, second.seq, first.body)

    result = verify(store.ledger_rows())
    assert not result.ok
    assert (result.bad_seq, result.bad_id) == (first.seq, first.record_id)


# --- `baton audit verify` --------------------------------------------------------------------


@pytest.fixture
def sqlite_db(starter: Config, tmp_path: Path) -> Path:
    """A SQLite database holding the engine's ledger for EVENTS."""
    path = tmp_path / "audit.db"
    store = open_store(path)
    try:
        run_engine(starter, store)
    finally:
        store.close()
    return path


def flat(text: str) -> str:
    """Output with Rich's line wrapping undone."""
    return " ".join(text.split())


def test_audit_verify_passes_an_intact_ledger(sqlite_db: Path) -> None:
    store = open_store(sqlite_db)
    _, head = store.ledger_head()
    store.close()

    result = CliRunner().invoke(app, ["audit", "verify", "--db", str(sqlite_db)])
    assert result.exit_code == 0, result.output
    assert f"ledger intact: {ROWS} rows, head {head}" in flat(result.stdout)


def test_audit_verify_fails_naming_the_edited_row(sqlite_db: Path) -> None:
    store = open_store(sqlite_db)
    row = list(store.ledger_rows())[1]
    set_body(store, row.seq, edited(row))
    store.close()

    result = CliRunner().invoke(app, ["audit", "verify", "--db", str(sqlite_db)])
    assert result.exit_code == 1
    assert f"ledger broken at row 2 ({row.record_id})" in flat(result.stderr)
    assert "ledger intact" not in result.stdout


def test_audit_verify_of_a_missing_database_is_an_error_and_creates_nothing(
        tmp_path: Path) -> None:
    missing = tmp_path / "nothing.db"
    result = CliRunner().invoke(app, ["audit", "verify", "--db", str(missing)])
    assert result.exit_code == 2
    assert "error:" in result.stderr
    assert str(missing) in flat(result.stderr)
    assert not missing.exists()
