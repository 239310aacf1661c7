"""Recovery holds processing after a ledger mismatch until an operator acknowledges it,
and the acknowledgement is a ledger record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from audit_support import NOW, build_db
from baton.app import open_engine
from baton.cli import app
from baton.config import Config
from baton.ledger import checkpoints, signing
from baton.ledger.guard import LedgerHeldError
from baton.model import Event
from baton.store import open_store
from baton.store import schema as t


@pytest.fixture
def db(starter: Config, tmp_path: Path) -> Path:
    return build_db(starter, tmp_path / "baton.db")


def truncate(db: Path, keep: int) -> None:
    store = open_store(db)
    with store.engine.begin() as conn:
        conn.execute(delete(t.ledger).where(t.ledger.c.seq > keep))
    store.close()


def test_an_intact_database_recovers_without_holding(db: Path) -> None:
    engine = open_engine(str(db))
    assert engine.ledger.seq == 20
    engine.store.close()


def test_recovery_after_a_truncation_names_it_and_holds_until_acknowledged(db: Path) -> None:
    truncate(db, 12)
    with pytest.raises(LedgerHeldError) as held:
        open_engine(str(db))
    assert "replaying the log gives ledger row 20" in str(held.value)
    assert "rows 13..20 that the replay gives are missing" in str(held.value)
    assert "baton audit acknowledge" in str(held.value)

    result = CliRunner().invoke(app, ["audit", "acknowledge", "--by", "ana", "--comment",
                                      "restored from backup", "--db", str(db)])
    assert result.exit_code == 0, result.output
    store = open_store(db)
    ack = json.loads(list(store.ledger_rows())[-1].body)
    store.close()
    assert (ack["record"], ack["by"], ack["comment"]) == ("acknowledgement", "ana",
                                                          "restored from backup")
    assert "rows 13..20" in ack["mismatch"] and ack["stored_seq"] == 12

    engine = open_engine(str(db))  # carries on from the stored chain
    assert engine.ledger.seq == 13
    engine.ingest([Event(key="later", type="service.down", entity="db", time=NOW)])
    assert engine.process_pending() == 1  # no clash with the ids the removed rows held
    assert engine.ledger.seq > 13
    engine.store.close()
    open_engine(str(db)).store.close()  # and it stays accepted after a restart


def test_a_second_truncation_after_an_acknowledgement_holds_again(db: Path) -> None:
    truncate(db, 12)
    assert CliRunner().invoke(app, ["audit", "acknowledge", "--by", "ana", "--db",
                                    str(db)]).exit_code == 0
    truncate(db, 10)
    with pytest.raises(LedgerHeldError, match="the replay gives are missing"):
        open_engine(str(db))


def test_a_ledger_shorter_than_a_signed_checkpoint_holds_recovery(db: Path) -> None:
    store = open_store(db)
    checkpoints.take(store, signing.load_or_create(db.parent / "k.pem"), NOW)
    store.close()
    truncate(db, 12)
    with pytest.raises(LedgerHeldError,
                       match=r"holds 12 rows but a signed checkpoint covers 20: rows 13\.\.20"):
        open_engine(str(db))


def test_acknowledging_needs_a_person_and_a_mismatch(db: Path) -> None:
    result = CliRunner().invoke(app, ["audit", "acknowledge", "--by", "ana", "--db", str(db)])
    assert result.exit_code == 2 and "nothing to acknowledge" in result.stderr
    truncate(db, 12)
    result = CliRunner().invoke(app, ["audit", "acknowledge", "--by", "nobody", "--db",
                                      str(db)])
    assert result.exit_code == 2 and "'nobody' is not a person" in result.stderr
    with pytest.raises(LedgerHeldError):
        open_engine(str(db))


def test_a_demo_database_reopens_without_holding(tmp_path: Path) -> None:
    # a virtual-time run folds an action's result in the step that dispatched it; that
    # action must not be sent again at commit (it rewrote the execution's detail, and the
    # replay of a restart then differed from the stored ledger)
    db = tmp_path / "demo.db"
    result = CliRunner().invoke(app, ["demo", "--headless", "--hours", "6", "--db", str(db)])
    assert result.exit_code == 0, result.output
    engine = open_engine(str(db))
    assert engine.ledger.seq > 50
    engine.store.close()
    verify = CliRunner().invoke(app, ["audit", "verify", "--db", str(db)])
    assert verify.exit_code == 0, verify.output
    assert "1 replayed" in " ".join(verify.stdout.split())
