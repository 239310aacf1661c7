"""Signed checkpoints, the signing key, witnesses, and proof bundles checked with no
database: `baton audit checkpoint | public-key | verify --checkpoint | prove | check-proof`."""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from audit_support import NOW, build_db, export_key
from baton.cli import app
from baton.config import Config
from baton.errors import ConfigError
from baton.ledger import checkpoints, merkle, signing
from baton.ledger.checkpoints import Checkpoint
from baton.store import open_store


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, ["audit", *args], env=env)


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def db(starter: Config, tmp_path: Path) -> Path:
    return build_db(starter, tmp_path / "baton.db")


@pytest.fixture
def key_file(db: Path, tmp_path: Path) -> Path:
    """The database's public key, exported."""
    return export_key(db, tmp_path)


def record_id(db: Path, seq: int) -> str:
    store = open_store(db)
    try:
        return next(iter(store.ledger_rows(after=seq - 1))).record_id
    finally:
        store.close()


def test_the_signing_key_is_made_on_first_use_beside_the_database_readable_by_its_owner_only(
        db: Path, key_file: Path) -> None:
    path = Path(str(db) + ".signing-key.pem")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_file.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    again = run("public-key", "--db", str(db))
    assert again.stdout == key_file.read_text()  # the same key the next time


def test_baton_signing_key_names_the_key_file(db: Path, tmp_path: Path) -> None:
    chosen = tmp_path / "elsewhere.pem"
    result = run("public-key", "--db", str(db), env={"BATON_SIGNING_KEY": str(chosen)})
    assert result.exit_code == 0 and chosen.exists()
    assert not Path(str(db) + ".signing-key.pem").exists()


def test_a_key_file_others_may_read_is_refused_naming_the_fix(db: Path) -> None:
    run("public-key", "--db", str(db))
    path = Path(str(db) + ".signing-key.pem")
    path.chmod(0o644)
    result = run("checkpoint", "--db", str(db))
    assert result.exit_code == 2
    assert "may be read by others (mode 644)" in flat(result.stderr)
    assert "chmod 600" in flat(result.stderr)


def test_the_default_key_of_a_postgresql_database_is_in_the_home_folder() -> None:
    assert signing.key_path("postgresql://h/db", {}) == signing.HOME_KEY.expanduser()
    assert signing.key_path("/x/b.db", {}) == Path("/x/b.db.signing-key.pem")
    assert signing.key_path("/x/b.db", {"BATON_SIGNING_KEY": "/k.pem"}) == Path("/k.pem")


def test_a_checkpoint_file_is_signed_and_verify_checks_the_ledger_against_it(
        db: Path, key_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "cp.json"
    result = run("checkpoint", "--db", str(db), "--out", str(out))
    assert result.exit_code == 0, result.output
    cp = Checkpoint.read(out)
    assert cp.size == 20 and cp.signed_by(signing.load_public(key_file))
    result = run("verify", "--db", str(db), "--checkpoint", str(out))
    assert result.exit_code == 0, result.output
    assert "ledger intact: 20 rows" in flat(result.stdout)
    assert "2 checkpoints" in flat(result.stdout) and "1 replayed" in flat(result.stdout)


def test_an_edited_checkpoint_file_fails_verification(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "cp.json"
    run("checkpoint", "--db", str(db), "--out", str(out))
    data = json.loads(out.read_text())
    data["size"] = 19
    out.write_text(json.dumps(data))
    result = run("verify", "--db", str(db), "--checkpoint", str(out))
    assert result.exit_code == 1
    assert f"checkpoint checkpoint file {out}: signature" in flat(result.stderr)


def test_a_malformed_checkpoint_file_is_an_error_naming_the_field(db: Path,
                                                                  tmp_path: Path) -> None:
    out = tmp_path / "cp.json"
    out.write_text(json.dumps({"format": "baton-checkpoint/1", "size": "many"}))
    result = run("verify", "--db", str(db), "--checkpoint", str(out))
    assert result.exit_code == 2
    assert "field 'size' must be a int" in flat(result.stderr)


def test_consistency_holds_between_checkpoints_of_a_growing_ledger(db: Path) -> None:
    store = open_store(db)
    key = signing.load_or_create(db.parent / "k.pem")
    first = checkpoints.take(store, key, NOW)
    rows = list(store.ledger_rows())
    leaves = [merkle.leaf_hash(f"{r.record_id}\n{r.body}".encode()) for r in rows]
    extra = [*leaves, merkle.leaf_hash(b"a later record")]
    proof = merkle.consistency_proof(extra, first.size)
    assert merkle.verify_consistency(first.size, len(extra), bytes.fromhex(first.root),
                                     merkle.root(extra), proof)
    leaves[0] = merkle.leaf_hash(b"rewritten")
    assert not merkle.verify_consistency(first.size, len(extra), bytes.fromhex(first.root),
                                         merkle.root([*leaves, extra[-1]]), proof)
    store.close()


# --- witnesses -------------------------------------------------------------------------------


class Witness:
    """A real HTTP server that keeps what is POSTed to it."""

    def __init__(self, status: int = 200) -> None:
        self.received: list[dict[str, Any]] = []
        witness = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["content-length"])
                witness.received.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/checkpoints"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def witness() -> Iterator[Witness]:
    w = Witness()
    yield w
    w.close()


def test_checkpoints_reach_a_witness_folder_and_an_http_witness(
        db: Path, witness: Witness, tmp_path: Path) -> None:
    store = open_store(db)
    key = signing.load_or_create(tmp_path / "k.pem")
    folder = tmp_path / "witness"
    cp = checkpoints.take(store, key, NOW, witness_dir=folder, witness_url=witness.url)
    assert witness.received == [cp.to_dict()]
    (path,) = folder.glob("checkpoint-*.json")
    assert Checkpoint.read(path) == cp
    (_, _, noted), = checkpoints.stored(store)
    assert f"http {witness.url} 200" in noted and "folder" in noted
    store.close()


def test_a_failing_witness_is_noted_and_the_checkpoint_still_taken(db: Path,
                                                                    tmp_path: Path) -> None:
    down = Witness(status=503)
    try:
        store = open_store(db)
        cp = checkpoints.take(store, signing.load_or_create(tmp_path / "k.pem"), NOW,
                              witness_url=down.url)
        (kept, _, noted), = checkpoints.stored(store)
        assert kept == cp and "failed" in noted and "503" in noted
        store.close()
    finally:
        down.close()


def test_witnesses_come_from_the_configuration(starter_dir: Path, tmp_path: Path,
                                               witness: Witness) -> None:
    settings = starter_dir / "baton.yaml"
    settings.write_text(settings.read_text() + f"audit:\n  witness_dir: witness\n"
                        f"  witness_url: {witness.url}\n")
    from baton.config import load_config

    db = build_db(load_config(starter_dir), tmp_path / "w.db")
    assert run("checkpoint", "--db", str(db)).exit_code == 0
    assert len(witness.received) == 1
    assert len(list((starter_dir / "witness").glob("checkpoint-*.json"))) == 1


# --- proofs ----------------------------------------------------------------------------------


@pytest.fixture
def proof(db: Path, key_file: Path, tmp_path: Path) -> Path:
    out = tmp_path / "proof.json"
    rid = record_id(db, 5)
    result = run("prove", rid, "--db", str(db), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"proof of {rid} (row 5 of 20)" in flat(result.stdout)
    return out


def test_a_genuine_proof_verifies_with_the_database_gone(
        db: Path, proof: Path, key_file: Path) -> None:
    shutil.rmtree(db.parent / "witness", ignore_errors=True)
    for path in db.parent.glob("baton.db*"):
        os.remove(path)
    result = run("check-proof", str(proof), "--key", str(key_file))
    assert result.exit_code == 0, result.output
    assert "proof holds" in result.stdout


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda b: b["record"].update(body=b["record"]["body"].replace("reliability", "cost")),
     "is not included in the tree"),
    (lambda b: b["inclusion"].__setitem__(0, "00" * 32), "is not included in the tree"),
    (lambda b: b.update(leaf_index=b["leaf_index"] + 1), "is not included in the tree"),
    (lambda b: b["checkpoint"].update(size=19), "signature does not verify"),
    (lambda b: b["checkpoint"].update(root="ab" * 32), "signature does not verify"),
], ids=["record", "path", "index", "checkpoint-size", "checkpoint-root"])
def test_an_edited_proof_fails(proof: Path, key_file: Path, edit: Any, expected: str) -> None:
    bundle = json.loads(proof.read_text())
    edit(bundle)
    proof.write_text(json.dumps(bundle))
    result = run("check-proof", str(proof), "--key", str(key_file))
    assert result.exit_code == 1
    assert expected in flat(result.stderr)


def test_a_proof_fails_with_another_key(proof: Path, tmp_path: Path) -> None:
    other = signing.load_or_create(tmp_path / "other.pem")
    pub = tmp_path / "other-public.pem"
    pub.write_text(signing.public_pem(other.public_key()))
    result = run("check-proof", str(proof), "--key", str(pub))
    assert result.exit_code == 1 and "signature does not verify" in flat(result.stderr)


def test_bad_proof_input_is_an_error_naming_it(proof: Path, key_file: Path,
                                               tmp_path: Path) -> None:
    bundle = json.loads(proof.read_text())
    bundle["inclusion"] = "nope"
    proof.write_text(json.dumps(bundle))
    result = run("check-proof", str(proof), "--key", str(key_file))
    assert result.exit_code == 2 and "field 'inclusion' must be a list" in flat(result.stderr)
    result = run("check-proof", str(proof), "--key", str(tmp_path / "none.pem"))
    assert result.exit_code == 2 and "no such key file" in flat(result.stderr)
    proof.write_text("{")
    result = run("check-proof", str(proof), "--key", str(key_file))
    assert result.exit_code == 2 and "not JSON" in flat(result.stderr)


def test_proving_an_unknown_record_is_an_error(db: Path, tmp_path: Path) -> None:
    result = run("prove", "D-nope", "--db", str(db), "--out", str(tmp_path / "p.json"))
    assert result.exit_code == 2 and "no ledger record 'D-nope'" in flat(result.stderr)
    assert not (tmp_path / "p.json").exists()


def test_a_truncated_ledger_gets_no_new_checkpoint(db: Path, tmp_path: Path) -> None:
    assert run("checkpoint", "--db", str(db)).exit_code == 0
    store = open_store(db)
    from sqlalchemy import delete

    from baton.store import schema as t

    with store.engine.begin() as conn:
        conn.execute(delete(t.ledger).where(t.ledger.c.seq > 10))
    store.close()
    result = run("checkpoint", "--db", str(db))
    assert result.exit_code == 2
    assert "holds 10 rows but the checkpoint of" in flat(result.stderr)
    assert "rows 11..20 were removed; no checkpoint signed" in flat(result.stderr)
    with pytest.raises(ConfigError):
        signing.load_or_create(tmp_path / "missing" / "k.pem")


def docs_verifier(tmp_path: Path) -> Path:
    """The stand-alone verifier printed in docs/audit.md, saved as a script."""
    text = (Path(__file__).parent.parent / "docs" / "audit.md").read_text()
    code = text.split("```python verifier\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "check_proof.py"
    script.write_text(code)
    return script


def test_the_stand_alone_verifier_in_the_docs_checks_a_proof_without_baton(
        proof: Path, key_file: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    script = docs_verifier(tmp_path)
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": ""}
    ran = subprocess.run([sys.executable, "-I", str(script), str(proof), str(key_file)],
                         capture_output=True, text=True, env=env, timeout=60, check=False)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("proof holds: ") and "row 5 of the 20" in ran.stdout
    bundle = json.loads(proof.read_text())
    bundle["record"]["body"] = bundle["record"]["body"].replace("reliability", "cost")
    proof.write_text(json.dumps(bundle))
    ran = subprocess.run([sys.executable, "-I", str(script), str(proof), str(key_file)],
                         capture_output=True, text=True, env=env, timeout=60, check=False)
    assert ran.returncode == 1 and "not in the signed tree" in ran.stderr


def test_a_live_run_signs_a_checkpoint_when_one_is_due_and_the_ledger_grew(
        db: Path, starter: Config) -> None:
    from baton.audit import Checkpointer

    clock = [0.0]
    store = open_store(db)
    every = Checkpointer(store, starter, monotonic=lambda: clock[0])
    assert every.every_s == 3600.0  # the default: hourly
    assert every.maybe(NOW) is None  # not due yet
    clock[0] = 3600.0
    cp = every.maybe(NOW)
    assert cp is not None and cp.size == 20
    clock[0] = 7200.0
    assert every.maybe(NOW) is None  # due, but nothing was added
    assert len(checkpoints.stored(store)) == 1
    store.close()
