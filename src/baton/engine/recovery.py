"""Recovery: rebuild the engine's state from the newest good snapshot plus the log's tail,
take snapshots, resume effects that were in flight, and set aside events that raise.

The log is the truth: a snapshot is only a shortcut to a known position in it, and one
that does not match the log or the configuration is ignored with a warning.
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import TYPE_CHECKING

import orjson

from baton.engine import snapshot
from baton.execution.executor import FINAL
from baton.ledger import guard, watch
from baton.ledger.writer import LedgerWriter
from baton.model import Event
from baton.store.port import DeadLetter, Step

if TYPE_CHECKING:
    from baton.engine.pipeline import Engine

log = logging.getLogger(__name__)

#: processed events read from the log at a time while replaying
REPLAY_CHUNK = 2000


def recover(engine: Engine, *, resume: bool = True) -> int:
    """Rebuild in-memory state by replaying the processed events after the newest good
    snapshot, acting on nothing; returns the events replayed. The replay must give the
    stored ledger (or an operator must have acknowledged the difference): otherwise
    LedgerHeldError. With `resume`, effects in flight go to the workers again."""
    started = time.perf_counter()
    stored_seq, stored_head = engine.stored_head
    engine.fresh_state(LedgerWriter(0, "0" * 64))
    engine.recovering = True
    dead = {d.seq: d for d in engine.store.dead_letters(status=None)}
    count = 0
    try:
        after = load_snapshot(engine) if engine.snapshot_every else 0
        base = after
        scratch = Step()
        count, after = replay_folded(engine, after, dead, scratch)
        _replay_drain(engine, scratch)
        first = engine.store.events(processed=False, limit=1)
        if first:  # urgent commands may have gone ahead of events still waiting
            engine.last_seq = min(engine.last_seq, first[0][0] - 1)
    finally:
        engine.recovering = False
    engine.recovery = {"snapshot_at": base or None, "replayed": count,
                       "seconds": round(time.perf_counter() - started, 3)}
    replayed = (engine.ledger.seq, engine.ledger.head)
    problem = guard.resume_problem(engine.store, replayed, (stored_seq, stored_head))
    if problem:  # wait for an operator (baton audit acknowledge) instead of carrying on
        raise guard.LedgerHeldError(problem, replayed, (stored_seq, stored_head))
    kept = watch.kept(engine.store)
    if kept is not None:  # a live run found a table contradicting the ledger
        problem, findings, found_at = kept
        raise guard.LedgerHeldError(f"{problem} (found at {found_at})", replayed,
                                    (stored_seq, stored_head), projections=findings)
    if replayed != (stored_seq, stored_head):
        # Acknowledged: carry on from the stored chain so it stays one sequence.
        log.warning("replay gave ledger row %s but the store holds row %s; carrying on "
                    "from the stored chain (acknowledged)", engine.ledger.seq, stored_seq)
        engine.ledger = LedgerWriter(stored_seq, stored_head)
    if resume:
        _resume_effects(engine)
    return count


def replay_folded(engine: Engine, after: int, dead: dict[int, DeadLetter],
                  scratch: Step) -> tuple[int, int]:
    """Fold in, acting on nothing, the processed events after fold position `after`, in
    the order they were folded; returns how many, and the position reached."""
    count = 0
    while chunk := engine.store.folded(after=after, limit=REPLAY_CHUNK):
        engine.foresee([(seq, event) for _, seq, event in chunk])
        for pos, seq, event in chunk:
            letter = dead.get(seq)
            if letter is not None:
                quarantine_record(engine, seq, event, letter.error, scratch)
            else:
                engine.handle(seq, event, scratch)
            engine.last_seq = max(engine.last_seq, seq)
            engine.ord = pos
            count += 1
        after = chunk[-1][0]
        scratch.reset()
    return count, after


def load_snapshot(engine: Engine) -> int:
    """Load the newest usable snapshot; the log position to replay from (0: none)."""
    for meta, body in engine.store.snapshots():
        reason = snapshot.why_not(engine, meta, body)
        if reason is None:
            try:
                snapshot.restore(engine, body)
            except Exception as exc:  # unreadable after all: the log is the truth
                reason = f"it could not be read ({type(exc).__name__}: {exc})"
                engine.fresh_state(LedgerWriter(0, "0" * 64))
        if reason is None:
            engine.ledger = LedgerWriter(meta.ledger_seq, meta.ledger_head)
            return meta.log_seq
        log.warning("snapshot at log position %s ignored: %s; replaying the log instead",
                    meta.log_seq, reason)
    return 0


def take_snapshot(engine: Engine) -> int:
    """Store a snapshot of the engine's state now (between batches); returns its size in
    bytes, or 0 when it cannot (the engine then stops taking them, and restarts replay the
    whole log)."""
    try:
        meta, body = snapshot.take(engine)
        engine.store.save_snapshot(meta, body)
    except Exception as exc:  # a state that cannot be pickled: restarts replay it all
        log.warning("no snapshot (%s: %s); restarts replay the whole log",
                    type(exc).__name__, exc)
        engine.snapshot_every = None
        return 0
    return len(body)


def _resume_effects(engine: Engine) -> None:
    """Hand the workers what was dispatched before the restart and has not ended.

    An effect found `started` on a target that cannot dedupe is not sent again: the
    executor reports it `unknown`, for a person to reconcile.
    """
    waiting = []
    for key, pending in engine.actor.inflight.items():
        rec = engine.store.execution(key)
        if rec is None or rec.status not in FINAL:
            waiting.append(pending.effect)
    if waiting:
        engine.workers().submit(waiting)


def _replay_drain(engine: Engine, step: Step) -> None:
    """Replay the folds a virtual-time run made after its last event (they follow it in
    the ledger), and no others: a run killed before its drain had not folded the rest."""
    if engine.live or engine.clock is None:
        return
    folded = set()
    for row in engine.store.ledger_rows(after=engine.ledger.seq):
        body = orjson.loads(row.body)
        if body.get("record") == "result":
            folded.add(str(body["key"]))
    if folded:
        engine.fold_until(engine.clock.now(), step, only=folded)


def set_aside(engine: Engine, seq: int, event: Event, exc: Exception) -> str:
    """An event raised: forget the uncommitted batch and rebuild state from what is
    committed; returns the error, for the event to be quarantined in its place when the
    batch is processed again."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    log.error("event %s (seq %s) could not be processed and is set aside: %s\n%s",
              event.key, seq, error, traceback.format_exc())
    engine.stored_head = engine.store.ledger_head()
    recover(engine)
    return error


def quarantine(engine: Engine, seq: int, event: Event, error: str, step: Step) -> None:
    """Set an event aside as a dead letter, with a ledger record naming the error."""
    at = engine.clock.now().isoformat() if engine.clock is not None \
        else event.time.isoformat()
    step.dead.append(DeadLetter(seq=seq, key=event.key, type=event.type, error=error, at=at))
    quarantine_record(engine, seq, event, error, step)


def quarantine_record(engine: Engine, seq: int, event: Event, error: str,
                      step: Step) -> None:
    """The ledger record of a quarantined event (written again the same way on replay)."""
    engine.ledger.begin(event.key)
    engine.stats.quarantined += 1
    rid = engine.ledger.next_id("Q")
    body = {"record": "quarantine", "id": rid, "event": event.key, "seq": seq,
            "type": event.type, "error": error}
    step.ledger.append(engine.ledger.append(rid, body))
