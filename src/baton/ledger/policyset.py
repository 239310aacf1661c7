"""The policy set in force as ledger records: its digest when a history starts and each
time the engine runs on another one, so the ledger names the policies every decision was
judged under and `baton audit verify` finds policy files changed behind its back."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baton.ledger.chain import canonical

#: the record kind of a policy set taking effect
RECORD = "policies"


@dataclass(frozen=True)
class PolicySet:
    """A policy set's digest: SHA-256 of each file's text, and of the canonical JSON of
    those (file name -> digest), the set's hash."""

    hash: str
    files: dict[str, str]

    @classmethod
    def of(cls, files: Iterable[tuple[str, str]]) -> PolicySet:
        """The digest of (file name, Cedar text) pairs; names are taken without their
        folder, so a configuration moved elsewhere keeps its hash."""
        per = {Path(name).name: hashlib.sha256(text.encode()).hexdigest()
               for name, text in files}
        per = dict(sorted(per.items()))
        return cls(hashlib.sha256(canonical(per).encode()).hexdigest(), per)

    def body(self, record_id: str, at: str, *, version: int, policies: int,
             previous: str | None) -> dict[str, Any]:
        """The ledger record of this set taking effect (`version` counts the sets the
        history has run on, from 1)."""
        return {"record": RECORD, "id": record_id, "time": at, "hash": self.hash,
                "files": self.files, "policies": policies, "version": version,
                "previous": previous}


def last_recorded(records: Iterable[tuple[int, str, dict[str, Any]]]) -> tuple[int, str] | None:
    """(ledger row, hash) of the last policy set the ledger records: a policy-set record,
    or an operator's acknowledgement of a held recovery, which names the set it accepted."""
    found = None
    for seq, _rid, body in records:
        if body.get("record") == RECORD and isinstance(body.get("hash"), str):
            found = (seq, str(body["hash"]))
        elif body.get("record") == "acknowledgement" and isinstance(body.get("policies"), str):
            found = (seq, str(body["policies"]))
    return found
