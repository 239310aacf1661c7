"""Small builders the engine tests share."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from baton.config import Config
from baton.engine.pipeline import Engine
from baton.execution.port import ActionRequest, ExecResult
from baton.execution.queue import QueueConnector
from baton.execution.sim import SimConnector
from baton.model import Event
from baton.org.model import Organisation
from baton.store.port import Store


class RecordingWorld:
    """A world that records every action it is asked to carry out."""

    def __init__(self, fail_kinds: frozenset[str] = frozenset()) -> None:
        self.requests: list[ActionRequest] = []
        self.fail_kinds = fail_kinds

    def apply(self, request: ActionRequest) -> ExecResult:
        """Record the action; fail the kinds asked to fail."""
        self.requests.append(request)
        if request.action.kind in self.fail_kinds:
            return ExecResult(ok=False, detail=f"{request.action.kind} failed on purpose")
        return ExecResult(ok=True)


def engine_for(config: Config, store: Store, world: RecordingWorld | None = None, *,
               live: bool = False) -> Engine:
    """An engine whose sim connector acts on a recording world."""
    return Engine(config, store=store, live=live, connectors={
        "sim": SimConnector(world or RecordingWorld()), "queue": QueueConnector()})


def ev(key: str, type_: str, entity: str, at: datetime, minutes: float = 0,
       **attrs: Any) -> Event:
    """An event `minutes` after `at`."""
    return Event(key=key, type=type_, entity=entity, time=at + timedelta(minutes=minutes),
                 attrs=attrs)


def with_policies(config: Config, text: str) -> Config:
    """The same configuration with its Cedar policies replaced."""
    return config.model_copy(update={"policies": [("test.cedar", text)]})


def with_budget(config: Config, domain: str, daily: int) -> Config:
    """The same configuration with one domain's daily budget replaced."""
    data = config.org.model_dump()
    data["budgets"] = [dict(b, daily=daily) if b["domain"] == domain else b
                       for b in data["budgets"]]
    return config.model_copy(update={"org": Organisation.model_validate(data)})
