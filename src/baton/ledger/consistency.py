"""Consistency bundles: two signed checkpoints and the RFC 9162 proof that the older tree
is a prefix of the newer, checked with no database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from baton.errors import InputError
from baton.ledger import merkle
from baton.ledger.checkpoints import Checkpoint, TamperedError, read_json
from baton.ledger.levels import Levels
from baton.ledger.proofs import hex_nodes
from baton.store.port import Store

FORMAT = "baton-consistency/1"


def prove(store: Store, old: Checkpoint, new: Checkpoint) -> dict[str, Any]:
    """The bundle proving `new`'s tree extends `old`'s, from this store's ledger.
    TamperedError when the ledger is not the history both were signed over (a fork or a
    rewrite); InputError when the two are given the wrong way round."""
    if old.size > new.size:
        raise InputError(f"the first checkpoint covers {old.size} rows, more than the "
                         f"second's {new.size}: give the older one first")
    levels = Levels(store)
    head = levels.extend().size
    if head < new.size:
        raise TamperedError(f"the ledger holds {head} rows but the checkpoint of {new.time} "
                            f"covers {new.size}: rows {head + 1}..{new.size} were removed")
    for name, cp in (("newer", new), ("older", old)):
        have = levels.subroot(0, cp.size).hex() if cp.size else merkle.EMPTY_ROOT.hex()
        if have != cp.root:
            raise TamperedError(
                f"the ledger's first {cp.size} rows hash to {have[:16]}, not to the root "
                f"{cp.root[:16]} the {name} checkpoint ({cp.time}) signed: the history was "
                f"rewritten or forked {'before' if name == 'newer' else 'after'} it was "
                "signed, so no consistency proof exists")
    proof = levels.consistency(old.size, new.size)
    return {"format": FORMAT, "old": old.to_dict(), "new": new.to_dict(),
            "proof": [p.hex() for p in proof]}


def check(bundle: Any, public: Ed25519PublicKey, where: str = "consistency proof") -> str:
    """Why a consistency bundle fails ('' when it holds): its shape, both signatures, and
    the proof from the older root to the newer (RFC 9162 section 2.1.4.2)."""
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise InputError(f"{where}: not a {FORMAT} bundle (field 'format')")
    nodes = hex_nodes(bundle.get("proof"), f"{where}: field 'proof'")
    old = Checkpoint.from_dict(bundle.get("old"), f"{where}: old")
    new = Checkpoint.from_dict(bundle.get("new"), f"{where}: new")
    for name, cp in (("older", old), ("newer", new)):
        if not cp.signed_by(public):
            return f"the {name} checkpoint's ({cp.time}) signature does not verify with this key"
    if not merkle.verify_consistency(old.size, new.size, bytes.fromhex(old.root),
                                     bytes.fromhex(new.root), nodes):
        return (f"the tree of {new.size} rows signed at {new.time} does not extend the tree "
                f"of {old.size} rows signed at {old.time}: the history was rewritten or "
                "forked between them (or the proof was altered)")
    return ""


def check_file(path: Path, public: Ed25519PublicKey, *, old: Path | None = None,
               new: Path | None = None) -> str:
    """check() of a bundle file; with `old`/`new`, the bundle must also hold exactly those
    checkpoint files (the ones the auditor kept)."""
    bundle = read_json(path, "consistency proof")
    problem = check(bundle, public, str(path))
    for name, held in (("old", old), ("new", new)):
        if not problem and held is not None and \
                Checkpoint.read(held).to_dict() != bundle.get(name):
            problem = f"its {name} checkpoint is not the one in {held}"
    return problem
