"""The executor: carries one effect out through its connector, at most once per key."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from baton.config import Connectors
from baton.errors import ConfigError
from baton.execution.effects import Effect, due_time
from baton.execution.port import ActionRequest, Connector
from baton.model import Action
from baton.store.port import ExecutionRecord, Store

FINAL = ("done", "failed", "unknown")


class Executor:
    """Routes action kinds to connectors; remembers outcomes so a crash never repeats one."""

    def __init__(self, routes: Connectors, connectors: Mapping[str, Connector],
                 store: Store) -> None:
        self.routes = routes
        self.connectors = connectors
        self.store = store
        for name in {routes.default, *routes.routes.values()}:
            if name not in connectors:
                raise ConfigError(f"connector {name!r} is routed to but not configured",
                                  field="connectors")

    def connector_for(self, kind: str) -> Connector:
        """The connector that carries actions of `kind`."""
        return self.connectors[self.routes.routes.get(kind, self.routes.default)]

    def effect(self, action: Action, *, key: str, decision: str, domain: str, at: datetime,
               purpose: str = "action") -> Effect:
        """The effect that carries `action` out, due after the connector's modelled latency."""
        connector = self.connector_for(action.kind)
        latencies = {str(k): v for k, v in self.routes.latency_s.items()}
        latency = latencies.get(connector.name, 0.0)
        return Effect(key=key, decision=decision, action=action, domain=domain, at=at,
                      due=due_time(at, latency), connector=connector.name,
                      idempotent=connector.idempotent, purpose=purpose)

    def carry_out(self, effect: Effect, *, fresh: bool = False) -> ExecutionRecord:
        """Send one effect once and return its final record (the caller stores it).

        A key already carried out returns its record without sending again. A key found
        `started` was interrupted by a crash after it may have been sent: a target that
        dedupes gets it again under the same key; one that cannot becomes `unknown`, for a
        person to reconcile, and is never sent twice. A `fresh` effect (dispatched in this
        process for the first time) has no earlier record to look up: a target that cannot
        dedupe only gets it once its decision is committed, so no earlier run sent it.
        """
        connector = self.connectors[effect.connector]
        record = ExecutionRecord(key=effect.key, decision=effect.decision,
                                 kind=effect.action.kind, resource=effect.action.resource,
                                 connector=connector.name, status="started", at=effect.at)
        earlier = None if fresh else self.store.execution(effect.key)
        if earlier is not None and earlier.status in FINAL:
            return earlier
        if not connector.idempotent:
            if earlier is not None:
                return finish(record, "unknown", 0, (
                    f"interrupted by a crash after it may have been sent; not repeated "
                    f"because the {connector.name} target cannot dedupe: check on the target "
                    f"whether {effect.action.kind} on {effect.action.resource} happened "
                    f"(idempotency key {effect.key})"))
            self.store.begin_execution(record)
        try:
            result = connector.execute(ActionRequest(
                idempotency_key=effect.key, action=effect.action, decision=effect.decision,
                domain=effect.domain, at=effect.at))
        except Exception as exc:  # a connector that breaks its contract still ends the effect
            return finish(record, "failed", 1, f"connector raised {type(exc).__name__}: {exc}")
        return finish(record, "done" if result.ok else "failed", result.attempts,
                      result.detail)


def finish(record: ExecutionRecord, status: str, attempts: int,
           detail: str) -> ExecutionRecord:
    """`record` with its final status."""
    return ExecutionRecord(key=record.key, decision=record.decision, kind=record.kind,
                           resource=record.resource, connector=record.connector, status=status,
                           attempts=attempts, detail=detail[:2000], at=record.at)
