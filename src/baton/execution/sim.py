"""The sim connector: hands actions to a simulated world, once per idempotency key."""

from __future__ import annotations

from typing import Protocol

from baton.execution.port import ActionRequest, Connector, ExecResult


class World(Protocol):
    """Anything that can carry out an action on a simulated organisation."""

    def apply(self, request: ActionRequest) -> ExecResult:
        """Act on the world at request.at and report what happened."""
        ...


class SimConnector(Connector):
    """Carries actions to a simulated world; a repeated key returns the first result."""

    name = "sim"
    idempotent = True
    serial = True

    def __init__(self, world: World) -> None:
        self.world = world
        self._results: dict[str, ExecResult] = {}

    def execute(self, request: ActionRequest) -> ExecResult:
        """Apply the action once per idempotency key; never raise for a world failure."""
        seen = self._results.get(request.idempotency_key)
        if seen is not None:
            return seen
        try:
            result = self.world.apply(request)
        except Exception as exc:  # the contract: report target failures, never raise
            result = ExecResult(ok=False, detail=f"simulated world failed: "
                                                 f"{type(exc).__name__}: {exc}")
        self._results[request.idempotency_key] = result
        return result
