"""Appends records to the chain in memory; the store writes them with the step."""

from __future__ import annotations

import hashlib
from typing import Any

from baton.ledger.chain import LedgerRow, canonical, link


def derived_id(prefix: str, cause: str, n: int) -> str:
    """A record id from what caused it: the n-th record written while handling `cause`."""
    digest = hashlib.sha256(f"{cause}\x00{n}".encode()).hexdigest()[:16]
    return f"{prefix}-{digest}"


class LedgerWriter:
    """Numbers records and links each to the one before.

    Record ids derive from the cause being handled (an event's key, or an effect's key
    when its result is folded in), what the record is about (a situation, an escalation,
    a plan step) and how many records about it that cause wrote before; never from the
    ledger's running count: a replay after a crash, or a different outcome elsewhere in
    the log, leaves every other id unchanged.
    """

    def __init__(self, seq: int, head: str) -> None:
        self.seq = seq
        self.head = head
        self.cause = "-"
        self.evidence = ""  # digest of the event being handled (decision records bind it)
        self._n: dict[str, int] = {}
        self._basis: dict[str, str] = {}

    def begin(self, cause: str, evidence: str = "") -> None:
        """Start numbering the records of one cause (with the digest of its event)."""
        self.cause = cause
        self.evidence = evidence
        self._n.clear()
        self._basis.clear()

    def next_id(self, prefix: str = "D", basis: str = "") -> str:
        """The id the next record about `basis` (a situation, an escalation, a plan step)
        will get while handling the current cause."""
        n = self._n.get(basis, 0)
        record_id = derived_id(prefix, f"{self.cause}\x00{basis}", n)
        self._basis[record_id] = basis
        return record_id

    def append(self, record_id: str, body: dict[str, Any]) -> LedgerRow:
        """Chain one record and return its row."""
        text = canonical(body)
        self.seq += 1
        basis = self._basis.pop(record_id, "")
        self._n[basis] = self._n.get(basis, 0) + 1
        digest = link(self.head, text)
        row = LedgerRow(self.seq, record_id, text, self.head, digest)
        self.head = digest
        return row
