"""Snapshots of the engine's in-memory state, so a restart replays only the log's tail.

A snapshot is the pickled state (monitor, coordinator, clock, budgets, picture, open
escalations, plans, effects in flight, ...) with what it reflects: the log position of the
last event folded in, the ledger row and hash it ends at, the configuration's fingerprint
and a format version. Objects that come from the configuration (the organisation, the
policy book, the agents, the store) are not pickled but named, and bound again to the
restoring engine's own. A snapshot that does not match is ignored and the whole log is
replayed instead: it can make a start faster, never different.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from types import FunctionType, MethodType
from typing import TYPE_CHECKING, Any

from baton.store.port import SnapshotMeta

if TYPE_CHECKING:
    from baton.engine.pipeline import Engine

VERSION = 5  # 3: the policy set recorded; 4: the ladder; 5: the outside agents' roster
#: the engine's attributes that make up its state between two events
FIELDS = ("monitor", "coordinator", "clock", "stats", "budgets", "objectives", "picture",
          "actor", "dispatcher", "ladder", "policies", "last_seq", "ord", "roster")


def fingerprint(engine: Engine) -> str:
    """The configuration's fingerprint: a snapshot is only good for the same one."""
    return hashlib.sha256(engine.config.model_dump_json().encode()).hexdigest()


def _shared(engine: Engine) -> dict[str, Any]:
    """Objects the state points at that the configuration rebuilds: named, not pickled."""
    named: dict[str, Any] = {
        "engine": engine, "config": engine.config, "org": engine.config.org,
        "settings": engine.config.settings, "graph": engine.graph, "book": engine.book,
        "gate": engine.gate, "base_book": engine.base_book, "base_gate": engine.base_gate,
        "store": engine.store, "executor": engine.executor,
        "objectives0": engine.config.settings.objectives}
    for i, agent in enumerate(engine.agents):
        named[f"agent:{i}"] = agent
    sla = getattr(engine.picture, "ticket_sla", None)
    if isinstance(sla, FunctionType | MethodType):
        named["ticket_sla"] = sla
    return named


def _named(name: str) -> Any:
    """Stands in a snapshot for a named object; `_Unpickler` binds the restoring engine's."""
    raise pickle.UnpicklingError(f"{name!r} can only be read back by a snapshot's unpickler")


class _Pickler(pickle.Pickler):
    """Pickles the state, writing each named object as `_named(name)`.

    A reducer override, not a persistent id: the pickler asks it only about instances of
    classes (strings, numbers and containers, most of a large state, never), where it
    would ask for a persistent id of every object.
    """

    def __init__(self, file: io.BytesIO, named: dict[int, str]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.named = named

    def reducer_override(self, obj: Any) -> Any:
        name = self.named.get(id(obj))
        return NotImplemented if name is None else (_named, (name,))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, named: dict[str, Any]) -> None:
        super().__init__(file)
        self.named = named

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == "_named":
            return self._load_named
        return super().find_class(module, name)

    def _load_named(self, name: str) -> Any:
        if name not in self.named:
            raise pickle.UnpicklingError(f"the snapshot names {name!r}, unknown here")
        return self.named[name]

    def persistent_load(self, pid: Any) -> Any:  # how snapshots named them before
        return self._load_named(str(pid))


def take(engine: Engine) -> tuple[SnapshotMeta, bytes]:
    """The engine's state now (call between batches, after a commit)."""
    named = {id(obj): name for name, obj in _shared(engine).items()}
    buf = io.BytesIO()
    _Pickler(buf, named).dump({name: getattr(engine, name) for name in FIELDS})
    body = buf.getvalue()
    meta = SnapshotMeta(log_seq=engine.ord, ledger_seq=engine.ledger.seq,
                        ledger_head=engine.ledger.head, version=VERSION,
                        config=fingerprint(engine), digest=hashlib.sha256(body).hexdigest())
    return meta, body


def why_not(engine: Engine, meta: SnapshotMeta, body: bytes) -> str | None:
    """Why this snapshot cannot be used here, or None when it can."""
    if meta.version != VERSION:
        return f"format version {meta.version}, this Baton reads {VERSION}"
    if meta.config != fingerprint(engine):
        return "taken under another configuration"
    if hashlib.sha256(body).hexdigest() != meta.digest:
        return "its body does not match its digest (corrupt)"
    row = next(iter(engine.store.ledger_rows(after=meta.ledger_seq - 1)), None)
    if meta.ledger_seq and (row is None or row.seq != meta.ledger_seq
                            or row.hash != meta.ledger_head):
        return f"the ledger no longer holds row {meta.ledger_seq} with the hash it names"
    return None


def restore(engine: Engine, body: bytes) -> None:
    """Put a snapshot's state into a freshly built engine."""
    state = _Unpickler(io.BytesIO(body), _shared(engine)).load()
    for name in FIELDS:
        setattr(engine, name, state[name])
    engine.policies.rebind()  # the policy set that was live when it was taken
