"""Operations on the autonomy ladder that the CLI, the API and the dashboard share.

A change is a `baton.autonomy` control event in the log; what the engine made of it
(applied, proposed, refused) is the ledger record it wrote.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from baton.app import stamp, submit
from baton.config import LEVELS
from baton.engine.pipeline import Engine
from baton.errors import ConflictError, ForbiddenError, InputError
from baton.model import Event
from baton.store.port import Store


def autonomy_event(engine: Engine, cls: str, level: str | None, *, by: str, reason: str,
                   approve: bool, at: datetime, source: str = "cli") -> Event:
    """The control event that sets a class's level or approves a proposed widening,
    after every check that can refuse it up front (writes nothing)."""
    ladder = engine.ladder
    pending = ladder.pending.get(cls)
    if approve and level is None:
        if pending is None:
            raise ConflictError(f"no widening of {cls!r} is waiting for approval")
        level = pending.level
    if level is None:
        raise InputError("a level is needed (observe, shadow, approve, autonomous)")
    problem = ladder.problem(cls, level)
    if problem is not None:
        raise InputError(problem)
    person = engine.config.org.person.get(by)
    if person is None:
        raise InputError(f"{by!r} is not a person of the organisation (--by)")
    if approve:
        if pending is None or pending.level != level:
            raise ConflictError(f"no widening of {cls} to {level} is waiting for approval")
        if person.access != "admin":
            raise ForbiddenError(f"{by} is not an admin; only an admin may approve a "
                                 "widening; nothing changed")
        if by == pending.by:
            raise ForbiddenError(f"{by} proposed this widening; another person (an admin) "
                                 "must approve it; nothing changed")
    attrs: dict[str, Any] = {"class": cls, "level": level, "by": by, "reason": reason}
    if approve:
        attrs["approve"] = True
    return Event(key=f"baton.autonomy:{cls}:{by}:{time.time_ns()}", type="baton.autonomy",
                 entity=cls, time=at, attrs=attrs, source=source)


def change(engine: Engine, cls: str, level: str | None, *, by: str, reason: str = "",
           approve: bool = False, source: str = "cli") -> dict[str, Any]:
    """Submit a ladder change and return the ledger record it produced."""
    event = autonomy_event(engine, cls, level, by=by, reason=reason, approve=approve,
                           at=stamp(engine), source=source)
    submit(engine, [event])
    return record_of(engine.store, event)


def record_of(store: Store, event: Event) -> dict[str, Any]:
    """The ledger record a ladder or policy event produced; ConflictError when it was
    refused (the record says why) or is not decided yet."""
    kind = "autonomy" if event.type == "baton.autonomy" else "policy"
    for record in store.decisions(limit=50, filters={"situation_kind": kind}):
        if record["event"] == event.key:
            if str(record["outcome"]).endswith("refused"):
                raise ConflictError(str(record["rationale"]))
            return record
    raise ConflictError(f"{event.key} was accepted but is not decided yet")


def status(engine: Engine) -> dict[str, Any]:
    """The ladder now: every class with its level, track record and recommendation."""
    out = engine.ladder.status()
    out["levels"] = list(LEVELS)
    return out
