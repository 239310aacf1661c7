"""Proof bundles: one ledger record, its inclusion proof and a signed checkpoint, checked
with no database."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from baton.errors import InputError, NotFoundError
from baton.ledger import merkle
from baton.ledger.checkpoints import Checkpoint, read_json, stored, take
from baton.ledger.levels import Levels
from baton.ledger.tree import leaf_bytes
from baton.store.port import Store

FORMAT = "baton-proof/1"


def prove(store: Store, key: Ed25519PrivateKey, record_id: str, at: datetime,
          **witnesses: Any) -> dict[str, Any]:
    """The proof bundle of one record, under the latest checkpoint that covers it (a new
    checkpoint is signed when none does)."""
    found = store.decision(record_id)
    if found is None:
        raise NotFoundError(f"no ledger record {record_id!r}")
    seq = int(found["ledger_seq"])
    record = next(iter(store.ledger_rows(after=seq - 1)))
    covering = [cp for cp, _, _ in stored(store) if cp.size >= seq]
    cp = covering[-1] if covering else take(store, key, at, **witnesses)
    path = Levels(store).inclusion(seq - 1, cp.size)  # O(log n) stored subtree hashes
    return {"format": FORMAT,
            "record": {"seq": seq, "record_id": record.record_id, "body": record.body},
            "leaf_index": seq - 1, "inclusion": [p.hex() for p in path],
            "checkpoint": cp.to_dict()}


def hex_nodes(path: Any, where: str) -> list[bytes]:
    """The hashes of a proof's list of hex strings; InputError naming `where` otherwise."""
    if not isinstance(path, list) or not all(isinstance(p, str) for p in path):
        raise InputError(f"{where} must be a list of hex strings")
    try:
        return [bytes.fromhex(p) for p in path]
    except ValueError as exc:
        raise InputError(f"{where} holds a non-hex string") from exc


def check(bundle: Any, public: Ed25519PublicKey, where: str = "proof") -> str:
    """Why a proof bundle fails ('' when it holds): its shape, the checkpoint's signature,
    and the record's inclusion under the checkpoint's root."""
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise InputError(f"{where}: not a {FORMAT} bundle (field 'format')")
    record, index, path = bundle.get("record"), bundle.get("leaf_index"), bundle.get("inclusion")
    if not (isinstance(record, dict) and isinstance(record.get("record_id"), str)
            and isinstance(record.get("body"), str)):
        raise InputError(f"{where}: field 'record' must hold 'record_id' and 'body' strings")
    if not isinstance(index, int) or isinstance(index, bool):
        raise InputError(f"{where}: field 'leaf_index' must be a whole number")
    nodes = hex_nodes(path, f"{where}: field 'inclusion'")
    cp = Checkpoint.from_dict(bundle.get("checkpoint"), f"{where}: checkpoint")
    if not cp.signed_by(public):
        return "the checkpoint's signature does not verify with this key"
    leaf = merkle.leaf_hash(leaf_bytes(record["record_id"], record["body"]))
    if not merkle.verify_inclusion(leaf, index, cp.size, nodes, bytes.fromhex(cp.root)):
        return (f"record {record['record_id']} at leaf {index} is not included in the tree "
                f"of {cp.size} rows signed at {cp.time}")
    return ""


def check_file(path: Path, public: Ed25519PublicKey) -> str:
    """check() of a bundle file; InputError naming the file when it is not one."""
    return check(read_json(path, "proof"), public, str(path))
