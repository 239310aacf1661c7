"""The executor: routes actions to connectors, at most once per idempotency key."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from baton.config import Connectors
from baton.errors import ConfigError
from baton.execution.port import ActionRequest, Connector, ExecResult
from baton.model import Action
from baton.store.port import ExecutionRecord, Step, Store


class Executor:
    """Sends allowed actions; remembers outcomes so a crash never repeats one."""

    def __init__(self, routes: Connectors, connectors: Mapping[str, Connector],
                 store: Store) -> None:
        self.routes = routes
        self.connectors = connectors
        self.store = store
        self.replaying = False
        for name in {routes.default, *routes.routes.values()}:
            if name not in connectors:
                raise ConfigError(f"connector {name!r} is routed to but not configured",
                                  field="connectors")

    def connector_for(self, kind: str) -> Connector:
        """The connector that carries actions of `kind`."""
        return self.connectors[self.routes.routes.get(kind, self.routes.default)]

    def run(self, action: Action, *, key: str, decision: str, domain: str, at: datetime,
            step: Step) -> ExecResult:
        """Carry out one action once; in replay, return the recorded outcome instead."""
        connector = self.connector_for(action.kind)
        if self.replaying:
            rec = self.store.execution(key)
            if rec is None:
                return ExecResult(ok=False, attempts=0, detail="no record of execution")
            return ExecResult(ok=rec.status == "done", attempts=rec.attempts, detail=rec.detail)
        record = ExecutionRecord(key=key, decision=decision, kind=action.kind,
                                 resource=action.resource, connector=connector.name,
                                 status="started", at=at)
        if not connector.idempotent:
            earlier = self.store.execution(key)
            if earlier is not None and earlier.status in ("done", "failed"):
                return ExecResult(ok=earlier.status == "done", attempts=earlier.attempts,
                                  detail=earlier.detail)
            if earlier is not None:
                detail = ("interrupted by a crash after it was sent; not repeated because "
                          f"the {connector.name} target cannot dedupe: check by hand")
                step.executions.append(_finish(record, "unknown", 0, detail))
                return ExecResult(ok=False, attempts=0, detail=detail)
            self.store.begin_execution(record)
        result = connector.execute(ActionRequest(idempotency_key=key, action=action,
                                                 decision=decision, domain=domain, at=at))
        step.executions.append(_finish(record, "done" if result.ok else "failed",
                                       result.attempts, result.detail))
        return result


def _finish(record: ExecutionRecord, status: str, attempts: int, detail: str) -> ExecutionRecord:
    return ExecutionRecord(key=record.key, decision=record.decision, kind=record.kind,
                           resource=record.resource, connector=record.connector, status=status,
                           attempts=attempts, detail=detail[:2000], at=record.at)
