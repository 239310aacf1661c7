"""Consistency proofs between two checkpoint files (`baton audit consistency` and
`check-consistency`), and the stored subtree hashes proofs are built from."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from audit_support import build_db, export_key
from baton.cli import app
from baton.config import Config
from baton.connectors import build_connectors
from baton.engine.pipeline import Engine
from baton.ledger import checkpoints, merkle, signing, tables
from baton.ledger.chain import GENESIS, LedgerRow, link
from baton.ledger.checkpoints import TamperedError
from baton.ledger.levels import LOW, Levels
from baton.ledger.tree import row_leaf
from baton.ledger.writer import LedgerWriter
from baton.model import Event
from baton.store import open_store
from baton.store import schema as t
from baton.store.port import Step
from baton.store.sql import SqlStore
from conftest import T0


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["audit", *args])


def flat(text: str) -> str:
    return " ".join(text.split())


def grow(store: SqlStore, records: int) -> None:
    writer = LedgerWriter(*store.ledger_head())
    store.commit(Step(ledger=[writer.append(f"N-{writer.seq + 1:08d}", {
        "record": "note", "id": f"N-{writer.seq + 1:08d}", "n": n}) for n in range(records)]))


# -- the stored subtree hashes ---------------------------------------------------------


def test_proofs_from_the_stored_hashes_equal_proofs_from_every_leaf(tmp_path: Path) -> None:
    store = open_store(tmp_path / "tree.db")
    levels = Levels(store)
    rng = random.Random(7)
    sizes = [1, 2, 3, (1 << LOW) - 1, 1 << LOW, (1 << LOW) + 1, 700, 1300]
    for size in sizes:  # grown in steps, each extend() folding in only the rows added
        grow(store, size - store.ledger_head()[0])
        assert levels.extend().size == size
        leaves = [row_leaf(r) for r in store.ledger_rows()]
        fresh = Levels(store)
        assert fresh.subroot(0, size) == merkle.root(leaves)
        for index in {0, size - 1, rng.randrange(size), rng.randrange(size)}:
            assert fresh.inclusion(index, size) == merkle.inclusion_proof(leaves, index)
        for old in {0, 1, size, rng.randrange(size + 1), rng.randrange(size + 1)}:
            assert fresh.consistency(old, size) == merkle.consistency_proof(leaves, old)
    with store.engine.connect() as conn:
        stored = conn.execute(tables.nodes.select()).all()
    assert len(stored) == sum(1300 >> level for level in range(LOW, 12))  # 2**LOW and up
    store.close()


def test_a_ledger_shorter_than_its_stored_tree_is_refused(tmp_path: Path) -> None:
    store = open_store(tmp_path / "tree.db")
    grow(store, 300)
    Levels(store).extend()
    with store.engine.begin() as conn:
        conn.execute(delete(t.ledger).where(t.ledger.c.seq > 290))
    with pytest.raises(TamperedError, match="holds 290 rows but its stored tree covers 300"):
        Levels(store).extend()
    store.close()


# -- the commands ----------------------------------------------------------------------


@pytest.fixture
def db(starter: Config, tmp_path: Path) -> Path:
    return build_db(starter, tmp_path / "baton.db")


def checkpoint(db: Path, path: Path) -> dict[str, Any]:
    result = run("checkpoint", "--db", str(db), "--out", str(path))
    assert result.exit_code == 0, result.output
    return dict(json.loads(path.read_text()))


def grow_by_engine(config: Config, db: Path) -> None:
    """More decisions on the database, as a later run makes them."""
    store = open_store(db)
    engine = Engine(config, store=store, connectors=build_connectors(config))
    engine.ingest([Event(key="later", type="service.down", entity="db",
                         time=T0 + timedelta(hours=9))])
    engine.settle(timeout=60)
    engine.close()
    store.close()


@pytest.fixture
def pair(starter: Config, db: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Two checkpoint files of a growing ledger, older first."""
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    checkpoint(db, old)
    grow_by_engine(starter, db)
    checkpoint(db, new)
    return old, new


def test_a_growing_ledger_proves_consistent_and_the_bundle_checks_without_the_database(
        db: Path, pair: tuple[Path, Path], tmp_path: Path) -> None:
    key_file = export_key(db, tmp_path)
    old, new = pair
    bundle_file = tmp_path / "consistency.json"
    result = run("consistency", str(old), str(new), "--db", str(db), "--out", str(bundle_file))
    assert result.exit_code == 0, result.output
    bundle = json.loads(bundle_file.read_text())
    sizes = (bundle["old"]["size"], bundle["new"]["size"])
    assert sizes[0] < sizes[1]
    assert f"consistency of {sizes[0]} -> {sizes[1]} rows" in flat(result.stdout)
    db.unlink()  # the check needs only the bundle and the public key
    result = run("check-consistency", str(bundle_file), "--key", str(key_file),
                 "--old", str(old), "--new", str(new))
    assert result.exit_code == 0, result.output
    assert "consistent: the newer signed tree extends the older" in flat(result.stdout)


def test_an_edited_consistency_bundle_fails(db: Path,
                                           pair: tuple[Path, Path], tmp_path: Path) -> None:
    key_file = export_key(db, tmp_path)
    old, new = pair
    bundle_file = tmp_path / "consistency.json"
    assert run("consistency", str(old), str(new), "--db", str(db),
               "--out", str(bundle_file)).exit_code == 0
    genuine = json.loads(bundle_file.read_text())
    edits = {
        "proof": {**genuine, "proof": ["00" * 32, *genuine["proof"][1:]]},
        "root": {**genuine, "new": {**genuine["new"], "root": "ab" * 32}},
        "size": {**genuine, "old": {**genuine["old"], "size": genuine["old"]["size"] - 1}},
    }
    for name, edited in edits.items():
        bundle_file.write_text(json.dumps(edited))
        result = run("check-consistency", str(bundle_file), "--key", str(key_file))
        assert result.exit_code == 1, name
        assert "consistency fails" in flat(result.stderr), name
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**genuine["old"], "time": "2020-01-01T00:00:00+00:00"}))
    bundle_file.write_text(json.dumps(genuine))
    result = run("check-consistency", str(bundle_file), "--key", str(key_file),
                 "--old", str(other))
    assert result.exit_code == 1 and "not the one in" in flat(result.stderr)


def test_a_rewritten_history_signed_again_is_not_consistent(
        db: Path, tmp_path: Path) -> None:
    key_file = export_key(db, tmp_path)
    old = tmp_path / "old.json"
    checkpoint(db, old)
    store = open_store(db)
    rows = list(store.ledger_rows())
    rows[2] = LedgerRow(3, rows[2].record_id, rows[2].body.replace("approval", "autonomous"),
                        "", "")
    previous, fresh = GENESIS, []
    for row in rows:  # rechained, and the audit tables wiped: a history signed afresh
        digest = link(previous, row.body)
        fresh.append({"seq": row.seq, "record_id": row.record_id, "body": row.body,
                      "prev_hash": previous, "hash": digest})
        previous = digest
    with store.engine.begin() as conn:
        conn.execute(delete(t.ledger))
        conn.execute(t.ledger.insert(), fresh)
        for table in (tables.checkpoints, tables.nodes, tables.tree):
            conn.execute(delete(table))
    grow(store, 3)  # and carried on (the engine itself would hold: the replay differs)
    store.close()
    new = tmp_path / "new.json"
    checkpoint(db, new)
    out = tmp_path / "consistency.json"
    result = run("consistency", str(old), str(new), "--db", str(db), "--out", str(out))
    assert result.exit_code == 1
    text = flat(result.stderr)
    assert text.startswith("not consistent: the ledger's first ")
    assert "the history was rewritten or forked after it was signed" in text
    assert not out.exists()
    # a bundle forged from the genuine old checkpoint and the new one does not verify
    store = open_store(db)
    proof = Levels(store).consistency(json.loads(old.read_text())["size"],
                                      json.loads(new.read_text())["size"])
    store.close()
    out.write_text(json.dumps({"format": "baton-consistency/1",
                               "old": json.loads(old.read_text()),
                               "new": json.loads(new.read_text()),
                               "proof": [p.hex() for p in proof]}))
    result = run("check-consistency", str(out), "--key", str(key_file))
    assert result.exit_code == 1
    assert "does not extend the tree of" in flat(result.stderr)


def test_a_consistency_bundle_fails_with_another_key(db: Path, pair: tuple[Path, Path],
                                                     tmp_path: Path) -> None:
    old, new = pair
    out = tmp_path / "consistency.json"
    assert run("consistency", str(old), str(new), "--db", str(db),
               "--out", str(out)).exit_code == 0
    other = tmp_path / "other.pem"
    other.write_text(signing.public_pem(
        signing.load_or_create(tmp_path / "other-key.pem").public_key()))
    result = run("check-consistency", str(out), "--key", str(other))
    assert result.exit_code == 1
    assert "the older checkpoint's" in flat(result.stderr)
    assert "signature does not verify with this key" in flat(result.stderr)


def test_bad_consistency_input_is_a_clear_error_naming_the_file(
        db: Path, pair: tuple[Path, Path], tmp_path: Path) -> None:
    key_file = export_key(db, tmp_path)
    old, new = pair
    out = tmp_path / "consistency.json"
    result = run("consistency", str(new), str(old), "--db", str(db), "--out", str(out))
    assert result.exit_code == 2 and "give the older one first" in flat(result.stderr)
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    for args, wanted in [
        (("consistency", str(junk), str(new), "--db", str(db), "--out", str(out)),
         f"{junk}: not JSON"),
        (("consistency", str(tmp_path / "gone.json"), str(new), "--db", str(db),
          "--out", str(out)), "no such checkpoint file"),
        (("check-consistency", str(junk), "--key", str(key_file)), f"{junk}: not JSON"),
        (("check-consistency", str(old), "--key", str(key_file)),
         "not a baton-consistency/1 bundle"),
        (("check-consistency", str(old), "--key", str(junk)), "not a PEM public key"),
    ]:
        junk.write_text("{not json")
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert wanted in flat(result.stderr), (args, result.stderr)
        assert "Traceback" not in result.output
    bundle = {"format": "baton-consistency/1", "old": json.loads(old.read_text()),
              "new": json.loads(new.read_text()), "proof": ["zz"]}
    out.write_text(json.dumps(bundle))
    result = run("check-consistency", str(out), "--key", str(key_file))
    assert result.exit_code == 2 and "field 'proof' holds a non-hex string" in flat(result.stderr)
    out.write_text(json.dumps({**bundle, "proof": [], "new": {"format": "x"}}))
    result = run("check-consistency", str(out), "--key", str(key_file))
    assert result.exit_code == 2 and "new: format must be" in flat(result.stderr)


def test_a_checkpoint_still_refuses_a_truncated_ledger(db: Path, tmp_path: Path) -> None:
    checkpoint(db, tmp_path / "cp.json")
    store = open_store(db)
    rows = store.ledger_head()[0]
    assert rows > 3
    with store.engine.begin() as conn:
        conn.execute(delete(t.ledger).where(t.ledger.c.seq > 3))
    key = signing.load_or_create(Path(str(db) + ".signing-key.pem"))
    removed = rf"rows 4\.\.{rows} were removed; no checkpoint signed"
    with pytest.raises(TamperedError, match=removed):
        checkpoints.take(store, key, T0)
    store.close()
