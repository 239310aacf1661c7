"""Build the connectors a configuration routes to."""

from __future__ import annotations

from collections.abc import Callable

from baton.config import Config
from baton.execution.command import CommandConnector
from baton.execution.http import HttpConnector
from baton.execution.port import Connector
from baton.execution.queue import QueueConnector, WorkItem
from baton.execution.sim import SimConnector, World
from baton.execution.stub import AcceptingWorld
from baton.store.port import Store


def store_sink(store: Store) -> Callable[[WorkItem], None]:
    """A queue sink that keeps work items in the store, once per key."""

    def sink(item: WorkItem) -> None:
        store.add_work_item({"key": item.key, "title": item.title, "domain": item.domain,
                             "decision": item.decision, "created": item.created.isoformat(),
                             "body": item.model_dump_json()})

    return sink


def build_connectors(config: Config, *, world: World | None = None, seed: int = 0,
                     store: Store | None = None) -> dict[str, Connector]:
    """One connector per kind the configuration uses; `sim` acts on `world`; work items
    go to `store` when one is given."""
    routes = config.settings.connectors
    out: dict[str, Connector] = {
        "sim": SimConnector(world if world is not None else AcceptingWorld()),
        "queue": QueueConnector(sink=store_sink(store) if store is not None else None),
    }
    if routes.command:
        out["command"] = CommandConnector(argv=routes.command)
    if routes.http is not None:
        h = routes.http
        out["http"] = HttpConnector(url=h.url, timeout_s=h.timeout_s, retries=h.retries,
                                    backoff_s=h.backoff_s, seed=seed)
    return out
