"""The connector port: how an allowed action reaches its target."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from baton.model import Action


class ActionRequest(BaseModel):
    """One action to carry out, with the key that makes carrying it out idempotent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    idempotency_key: str
    action: Action
    decision: str  # decision id that allowed it
    domain: str
    at: datetime  # engine clock time of the request


class ExecResult(BaseModel):
    """What happened when a connector tried an action."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: bool
    attempts: int = 1
    detail: str = ""
    response: dict[str, Any] = Field(default_factory=dict)


class Connector(ABC):
    """Carries actions to one kind of target.

    Contract: `execute` never raises for a failure of the target; it returns
    ExecResult(ok=False, detail=...) instead. It sends the idempotency key with
    the action wherever the target can use it, so a repeat with the same key has
    no further effect. `idempotent` says whether the target dedupes by that key,
    which decides whether an attempt interrupted by a crash may be sent again.
    """

    name: str = "connector"
    idempotent: bool = False
    #: carried out one at a time in the order sent (an in-process world whose state
    #: depends on the order of actions); others run on the worker pool in parallel
    serial: bool = False

    @abstractmethod
    def execute(self, request: ActionRequest) -> ExecResult:
        """Carry out one action; report the outcome, never raise for target failures."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (connections, processes)."""
