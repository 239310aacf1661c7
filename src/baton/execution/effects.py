"""Effects: what the engine wants done outside itself, written with its decisions.

The engine never calls a connector. It records an Effect in the same transaction as the
decision that wanted it (the outbox); execution workers carry it out and report the
result, which the engine folds in as an `action.result` event. Plain data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from baton.model import Action

#: the source stamped on result events the workers append (told apart from targets' reports)
WORKER_SOURCE = "baton.worker"
RESULT_PREFIX = "action.result:"


@dataclass(frozen=True)
class Effect:
    """One action to carry out once, under an idempotency key derived from its cause."""

    key: str
    decision: str
    action: Action
    domain: str
    at: datetime  # engine time of the decision that wanted it
    due: datetime  # engine time at which its result is folded in (virtual-time runs)
    connector: str
    idempotent: bool  # the target dedupes by key: it may be sent again after a crash
    purpose: str = "action"  # or "compensate"

    def to_json(self) -> str:
        """The outbox row's body."""
        return orjson.dumps({
            "key": self.key, "decision": self.decision,
            "action": self.action.model_dump(mode="json"), "domain": self.domain,
            "at": self.at.isoformat(), "due": self.due.isoformat(),
            "connector": self.connector, "idempotent": self.idempotent,
            "purpose": self.purpose}).decode()

    @classmethod
    def from_json(cls, text: str) -> Effect:
        """Read an outbox row's body back."""
        d: dict[str, Any] = orjson.loads(text)
        return cls(key=d["key"], decision=d["decision"],
                   action=Action.model_validate(d["action"]), domain=d["domain"],
                   at=datetime.fromisoformat(d["at"]), due=datetime.fromisoformat(d["due"]),
                   connector=d["connector"], idempotent=bool(d["idempotent"]),
                   purpose=d.get("purpose", "action"))


@dataclass(frozen=True)
class Outcome:
    """How an effect ended: done, failed, or unknown (interrupted; a person must check)."""

    key: str
    status: str  # done, failed, unknown
    attempts: int = 0
    detail: str = ""

    @property
    def ok(self) -> bool:
        """True when the target carried the action out."""
        return self.status == "done"


#: the longest idempotency key the store keeps (the executions and outbox key columns)
MAX_KEY = 200


def action_key(*parts: object) -> str:
    """An idempotency key from its parts, shortened with a digest when it would not fit
    (a long resource name), so the same parts always give the same key."""
    key = ":".join(str(p) for p in parts)
    if len(key) <= MAX_KEY - len(":compensate"):
        return key
    import hashlib

    head = ":".join(str(p) for p in parts[:2])[:100]
    return f"{head}:{hashlib.sha256(key.encode()).hexdigest()[:40]}"


def due_time(at: datetime, latency_s: float) -> datetime:
    """When a result is folded in, in virtual time: the decision's time plus the
    connector's modelled latency."""
    return at + timedelta(seconds=latency_s)
