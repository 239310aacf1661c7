"""Hash chaining: each record's hash covers its canonical content and the previous hash."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

GENESIS = "0" * 64


def canonical(content: dict[str, Any]) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept (orjson's compact form)."""
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
                        default=str).decode()


def link(previous: str, body: str) -> str:
    """The hash of a record whose canonical body is `body`, chained to `previous`."""
    return hashlib.sha256(f"{previous}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class LedgerRow:
    """One stored ledger row."""

    seq: int
    record_id: str
    body: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Verification:
    """The result of walking the chain."""

    ok: bool
    rows: int
    head: str
    bad_seq: int | None = None
    bad_id: str | None = None
    problem: str = ""


def verify(rows: Iterable[LedgerRow]) -> Verification:
    """Walk the chain in order; report the first row whose content or link was altered."""
    previous = GENESIS
    count = 0
    expected_seq = 1
    for row in rows:
        count += 1
        if row.seq != expected_seq:
            return Verification(False, count, previous, row.seq, row.record_id,
                                f"sequence gap: expected row {expected_seq}, found {row.seq}")
        if row.prev_hash != previous:
            return Verification(False, count, previous, row.seq, row.record_id,
                                "previous-hash link broken (a row before it was removed or "
                                "altered)")
        if link(previous, row.body) != row.hash:
            return Verification(False, count, previous, row.seq, row.record_id,
                                "content does not match its hash (row edited)")
        previous = row.hash
        expected_seq += 1
    return Verification(True, count, previous)
