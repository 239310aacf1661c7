"""Builders the outcome, ladder and policy tests share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from baton.config import Config, Ladder
from baton.engine.pipeline import Engine
from baton.model import Event
from baton.store import open_store
from baton.store.port import Store
from helpers import RecordingWorld, engine_for

RESTART = "reliability/service_down/restart"


def with_autonomy(config: Config, **changes: Any) -> Config:
    """The configuration with its autonomy settings changed (ladder rules under `ladder`)."""
    autonomy = config.settings.autonomy
    ladder = changes.pop("ladder", None)
    if ladder is not None:
        changes["ladder"] = Ladder.model_validate({**autonomy.ladder.model_dump(), **ladder})
    settings = config.settings.model_copy(update={
        "autonomy": autonomy.model_copy(update=changes)})
    return config.model_copy(update={"settings": settings})


def records(store: Store, kind: str) -> list[dict[str, Any]]:
    """The ledger's records of one kind ("outcome", "decision", ...), in order."""
    out = []
    for row in store.ledger_rows(after=0):
        body: dict[str, Any] = orjson.loads(row.body)
        if body.get("record") == kind:
            out.append(body)
    return out


def feed(engine: Engine, events: list[Event]) -> Engine:
    """Ingest and process events."""
    engine.ingest(events)
    engine.process_pending()
    return engine


def engine_on(config: Config, path: Path, world: RecordingWorld | None = None) -> Engine:
    """A virtual-time engine on a fresh SQLite database."""
    return engine_for(config, open_store(path), world)


def autonomy_decisions(store: Store) -> list[dict[str, Any]]:
    """The ladder's own decision records, oldest first."""
    return [r for r in records(store, "decision") if r["situation_kind"] == "autonomy"]
