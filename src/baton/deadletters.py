"""Dead letters: events set aside because processing them raised, and what people do
with them (retry once the cause is fixed, or discard)."""

from __future__ import annotations

import hashlib

from baton.errors import ConflictError, NotFoundError
from baton.model import Event
from baton.store.port import DeadLetter, Store


def find(store: Store, seq: int) -> DeadLetter:
    """The dead letter of log position `seq`; NotFoundError naming what exists."""
    for dead in store.dead_letters(status=None):
        if dead.seq == seq:
            return dead
    held = [str(d.seq) for d in store.dead_letters()]
    raise NotFoundError(f"no dead letter at log position {seq}; held now: "
                        f"{', '.join(held) or 'none'} (`baton dead-letters list`)")


def retry_key(key: str, attempt: int) -> str:
    """The key of a retried copy: the original's, marked, within the 200-character limit."""
    mark = f"#retry{attempt}"
    if len(key) + len(mark) <= 200:
        return key + mark
    return key[:150] + "~" + hashlib.sha256(key.encode()).hexdigest()[:16] + mark


def retry(store: Store, seq: int) -> Event:
    """Append a copy of the quarantined event to the log (processed next, like any event);
    the dead letter is marked retried. Returns the copy."""
    dead = find(store, seq)
    if dead.status != "held":
        raise ConflictError(f"dead letter {seq} was {dead.status} already; nothing changed")
    found = store.events(after=seq - 1, limit=1)
    if not found or found[0][0] != seq:
        raise NotFoundError(f"the event at log position {seq} is gone from the log")
    original = found[0][1]
    attempt = 1 + sum(1 for d in store.dead_letters(status=None)
                      if d.key.startswith(original.key.split("#retry")[0]))
    copy = original.model_copy(update={"key": retry_key(original.key, attempt)})
    store.set_dead_letter(seq, "retried", copy)
    return copy


def discard(store: Store, seq: int) -> DeadLetter:
    """Mark a held dead letter discarded: it stays in the log and the ledger, unprocessed."""
    dead = find(store, seq)
    if dead.status != "held":
        raise ConflictError(f"dead letter {seq} was {dead.status} already; nothing changed")
    store.set_dead_letter(seq, "discarded")
    return dead
