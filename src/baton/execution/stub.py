"""A target that accepts every action and remembers it: for `baton run` without a world."""

from __future__ import annotations

from baton.execution.port import ActionRequest, ExecResult


class AcceptingWorld:
    """Accepts every action; keeps the idempotency keys it saw, in order."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def apply(self, request: ActionRequest) -> ExecResult:
        """Accept the action."""
        self.seen.append(request.idempotency_key)
        return ExecResult(ok=True, detail="accepted by the stub world")
