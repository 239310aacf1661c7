"""Queue connector: turns an action into a work item for people to carry out."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from baton.execution.port import ActionRequest, Connector, ExecResult
from baton.model import Action


class WorkItem(BaseModel):
    """A task for people: one action to carry out by hand."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str  # idempotency key of the request that created it
    title: str  # e.g. "restart svc-a"
    action: Action
    domain: str
    decision: str
    created: datetime  # the request's `at`


def work_item_for(request: ActionRequest) -> WorkItem:
    """Build the work item for one request."""
    action = request.action
    return WorkItem(
        key=request.idempotency_key,
        title=f"{action.kind} {action.resource}",
        action=action,
        domain=request.domain,
        decision=request.decision,
        created=request.at,
    )


class QueueConnector(Connector):
    """Creates one work item per idempotency key; repeating a key adds nothing.

    Items go to `sink` if one is given, else they are kept in `items`. Keys are
    deduplicated in memory for the life of the connector; a persistent sink should
    also treat the key as unique so that dedup survives a restart. If the sink raises,
    the result is ok=False and the key is not marked as seen, so a retry can add it.
    """

    name = "queue"
    idempotent = True

    def __init__(self, *, sink: Callable[[WorkItem], None] | None = None) -> None:
        self.items: list[WorkItem] = []
        self._sink = sink if sink is not None else self.items.append
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def execute(self, request: ActionRequest) -> ExecResult:
        """Queue a work item for the action unless its key was queued already."""
        item = work_item_for(request)
        response = {"key": item.key, "title": item.title}
        with self._lock:
            if item.key in self._seen:
                return ExecResult(
                    ok=True,
                    detail=f"work item {item.title!r} already queued",
                    response={**response, "duplicate": True},
                )
            try:
                self._sink(item)
            except Exception as exc:  # the sink is the target; its failure is reported
                return ExecResult(
                    ok=False, detail=f"could not queue {item.title!r}: {type(exc).__name__}: {exc}"
                )
            self._seen.add(item.key)
        return ExecResult(
            ok=True,
            detail=f"queued work item {item.title!r}",
            response={**response, "duplicate": False},
        )
