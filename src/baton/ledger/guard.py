"""Recovery's check: the stored ledger must be what replaying the log gives, and no shorter
than the last checkpoint; otherwise processing waits for an operator's acknowledgement,
which is itself a ledger record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from baton.errors import BatonError
from baton.ledger.writer import LedgerWriter, derived_id
from baton.store.port import Step, Store

#: the record kind of an operator's acknowledgement
ACK = "acknowledgement"
#: the setting that keeps a projection hold across restarts (see `baton.ledger.watch`)
HOLD_KEY = "ledger_hold"


class LedgerHeldError(BatonError):
    """Processing stops: the stored ledger differs from the replay (or a checkpoint)."""

    def __init__(self, problem: str, replayed: tuple[int, str], stored: tuple[int, str], *,
                 projections: list[str] | None = None) -> None:
        self.problem, self.replayed, self.stored = problem, replayed, stored
        #: the findings of a projection hold (None: the hold is about the chain)
        self.projections = projections
        super().__init__(f"{problem}; processing is held until an operator acknowledges it "
                         "(`baton audit acknowledge --by PERSON`)")


def _latest_ack(store: Store) -> dict[str, Any] | None:
    latest = None
    for row in store.ledger_rows():
        if '"record":"acknowledgement"' in row.body:
            latest = orjson.loads(row.body)
    return latest


def _checkpoint_size(store: Store) -> int:
    """The size of the largest stored checkpoint (0 when none or not a SQL store)."""
    from baton.ledger.checkpoints import stored

    try:
        return max((cp.size for cp, _, _ in stored(store)), default=0)
    except BatonError:
        return 0


def resume_problem(store: Store, replayed: tuple[int, str], stored: tuple[int, str]) -> str:
    """Why recovery must not carry on ('' when it may): the replay's (row, head) differ from
    the stored ones, or the ledger is shorter than a checkpoint. A mismatch an operator
    acknowledged stays accepted while the stored ledger keeps the same distance from the
    replay; a further removal or rewrite is a new mismatch."""
    covered = _checkpoint_size(store)
    if stored[0] >= covered and replayed == stored:
        return ""
    ack = _latest_ack(store)
    if stored[0] < covered and (ack is None or ack.get("covered") != covered):
        return (f"the ledger holds {stored[0]} rows but a signed checkpoint covers {covered}: "
                f"rows {stored[0] + 1}..{covered} were removed")
    if replayed == stored:
        return ""
    if ack is not None and ack.get("offset") == replayed[0] - stored[0]:
        return ""
    if replayed[0] > stored[0]:
        what = (f"rows {stored[0] + 1}..{replayed[0]} that the replay gives are missing "
                "(removed?)")
    elif replayed[0] < stored[0]:
        what = (f"rows {replayed[0] + 1}..{stored[0]} are not what the log gives "
                "(appended by hand?)")
    else:
        what = "as many rows as the replay, with another head (rewritten?)"
    return (f"replaying the log gives ledger row {replayed[0]} with head {replayed[1][:16]}, "
            f"but the store holds row {stored[0]} with head {stored[1][:16]}: {what}, or the "
            "configuration changed since")


def acknowledge(store: Store, held: LedgerHeldError, *, by: str, comment: str,
                at: datetime, policies: str | None = None) -> str:
    """Record an operator's acknowledgement of a held mismatch in the ledger; its id.
    `policies` is the hash of the policy set in force now, which the operator accepts
    with it (a policy change holds recovery until then)."""
    seq, head = store.ledger_head()
    writer = LedgerWriter(seq, head)
    rid = derived_id("A", f"ack\x00{head}\x00{by}", seq)
    body = {"record": ACK, "id": rid, "by": by, "comment": comment, "time": at.isoformat(),
            "mismatch": held.problem, "replayed_seq": held.replayed[0],
            "replayed_head": held.replayed[1], "stored_seq": seq, "stored_head": head,
            "offset": held.replayed[0] - (seq + 1), "covered": _checkpoint_size(store)}
    if policies is not None:
        body["policies"] = policies
    settings = {}
    if held.projections is not None:  # these findings hold no more; new ones will
        body["projections"] = held.projections
        settings[HOLD_KEY] = ""
    store.commit(Step(ledger=[writer.append(rid, body)], settings=settings))
    return rid


def offset_now(store: Store) -> int:
    """How many rows replaying the log gives beyond the stored ledger, as the latest
    acknowledgement accepted it (0 without one)."""
    ack = _latest_ack(store)
    return int(ack.get("offset", 0)) if ack else 0
