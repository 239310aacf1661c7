"""Appends records to the chain in memory; the store writes them with the step."""

from __future__ import annotations

from typing import Any

from baton.ledger.chain import LedgerRow, canonical, link


class LedgerWriter:
    """Numbers records and links each to the one before."""

    def __init__(self, seq: int, head: str) -> None:
        self.seq = seq
        self.head = head

    def next_id(self, prefix: str = "D") -> str:
        """The id the next record will get."""
        return f"{prefix}-{self.seq + 1:07d}"

    def append(self, record_id: str, body: dict[str, Any]) -> LedgerRow:
        """Chain one record and return its row."""
        text = canonical(body)
        self.seq += 1
        digest = link(self.head, text)
        row = LedgerRow(self.seq, record_id, text, self.head, digest)
        self.head = digest
        return row
