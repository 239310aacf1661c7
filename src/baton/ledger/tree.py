"""The ledger as Merkle leaves: which bytes of a row are hashed, and the tree of a store."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from baton.ledger import merkle
from baton.ledger.chain import LedgerRow
from baton.model.events import Event


def event_digest(event: Event) -> str:
    """SHA-256 hex of an event's canonical JSON (decision records bind it)."""
    return hashlib.sha256(event.to_json().encode()).hexdigest()


def leaf_bytes(record_id: str, body: str) -> bytes:
    """The leaf of one ledger row: its record id, a newline, its canonical JSON body."""
    return f"{record_id}\n{body}".encode()


def row_leaf(row: LedgerRow) -> bytes:
    """The leaf hash of a ledger row."""
    return merkle.leaf_hash(leaf_bytes(row.record_id, row.body))


def leaves(rows: Iterable[LedgerRow]) -> list[bytes]:
    """The leaf hashes of rows, in order."""
    return [row_leaf(r) for r in rows]
