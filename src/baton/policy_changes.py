"""Policy changes as reviewed changes: propose with a backtest, approve, roll back.

Each is a `baton.policy` control event; what the engine made of it is its ledger record.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from baton.app import stamp, submit
from baton.autonomy import record_of
from baton.backtest import backtest
from baton.engine.pipeline import Engine
from baton.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from baton.governance.versions import pack, policy_hash, proposal_id, read_policy_dir
from baton.model import Event

#: flips kept with a proposal (the count is always kept)
KEPT_FLIPS = 100


def _event(engine: Engine, op: str, by: str, attrs: dict[str, Any]) -> Event:
    return Event(key=f"baton.policy:{op}:{by}:{time.time_ns()}", type="baton.policy",
                 entity=str(attrs.get("id", op)), time=stamp(engine), source="cli",
                 attrs={"op": op, "by": by, **attrs})


def _person(engine: Engine, by: str, *, admin: bool) -> None:
    person = engine.config.org.person.get(by)
    if person is None:
        raise InputError(f"{by!r} is not a person of the organisation (--by)")
    if admin and person.access != "admin":
        raise ForbiddenError(f"{by} is not an admin; nothing changed")


def _result(engine: Engine, event: Event) -> dict[str, Any]:
    submit(engine, [event])
    return record_of(engine.store, event)


def propose(engine: Engine, policy_dir: Path, *, by: str, comment: str = "",
            days: float | None = None) -> dict[str, Any]:
    """Backtest a policy set on this database's log and store it as a proposal."""
    _person(engine, by, admin=False)
    files = read_policy_dir(policy_dir)
    pid = proposal_id(policy_hash(files), by)
    known = engine.policies.proposals.get(pid)
    if known is not None and known["status"] == "proposed":
        raise ConflictError(f"{pid} proposes this set already")
    report = backtest(engine.store, engine.config, policy_dir, days=days)
    kept = {k: report[k] for k in ("decisions", "flip_count", "by_class", "effect", "events")}
    kept["flips"] = report["flips"][:KEPT_FLIPS]
    record = _result(engine, _event(engine, "propose", by, {
        "id": pid, "files": pack(files), "backtest": kept, "comment": comment}))
    return {"record": record, "id": pid, "backtest": report}


def approve(engine: Engine, pid: str, *, by: str, comment: str = "") -> dict[str, Any]:
    """Make a proposal live from the next event on (an admin who did not propose it)."""
    _person(engine, by, admin=True)
    p = engine.policies.proposals.get(pid)
    if p is None:
        raise NotFoundError(f"no policy proposal {pid!r}; `baton policy list` shows them")
    if p["status"] != "proposed":
        raise ConflictError(f"{pid} is {p['status']}, not waiting for approval")
    if p["by"] == by:
        raise ForbiddenError(f"{by} proposed {pid}; another person must approve it; "
                             "nothing changed")
    return _result(engine, _event(engine, "approve", by, {"id": pid, "comment": comment}))


def rollback(engine: Engine, *, by: str, comment: str = "") -> dict[str, Any]:
    """Return to the policy set in force before the latest one went live."""
    _person(engine, by, admin=True)
    if not engine.policies.live:
        raise ConflictError("the configured policy set is in force; nothing to roll back")
    return _result(engine, _event(engine, "rollback", by, {"comment": comment}))
