"""A follower: an engine that acts on nothing and is kept level with what the leader of
its cell has processed, by folding the processed events in the order the leader did.

API replicas answer from it (the shared picture, open escalations, kill switches), and
it is exactly the state a recovery would rebuild, so what they show is what the leader
decided.
"""

from __future__ import annotations

from baton.engine import recovery
from baton.engine.pipeline import Engine
from baton.ledger.writer import LedgerWriter
from baton.store.port import Step


class Follower:
    """Keeps `engine` level with the log's processed events; never writes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        engine.fresh_state(LedgerWriter(0, "0" * 64))
        engine.recovering = True
        try:
            self.after = recovery.load_snapshot(engine) if engine.snapshot_every else 0
        finally:
            engine.recovering = False
        engine.snapshot_every = None  # a follower stores nothing, snapshots included
        self.folded = 0

    def catch_up(self) -> int:
        """Fold in what the leader processed since the last call; how many events."""
        engine = self.engine
        dead = {d.seq: d for d in engine.store.dead_letters(status=None)}
        engine.recovering = True
        try:
            count, self.after = recovery.replay_folded(engine, self.after, dead, Step())
        finally:
            engine.recovering = False
        self.folded += count
        return count
