"""Build the connectors a configuration routes to."""

from __future__ import annotations

from baton.config import Config
from baton.execution.command import CommandConnector
from baton.execution.http import HttpConnector
from baton.execution.port import Connector
from baton.execution.queue import QueueConnector
from baton.execution.sim import SimConnector, World
from baton.execution.stub import AcceptingWorld


def build_connectors(config: Config, *, world: World | None = None,
                     seed: int = 0) -> dict[str, Connector]:
    """One connector per kind the configuration uses; `sim` acts on `world`."""
    routes = config.settings.connectors
    out: dict[str, Connector] = {
        "sim": SimConnector(world if world is not None else AcceptingWorld()),
        "queue": QueueConnector(),
    }
    if routes.command:
        out["command"] = CommandConnector(argv=routes.command)
    if routes.http is not None:
        h = routes.http
        out["http"] = HttpConnector(url=h.url, timeout_s=h.timeout_s, retries=h.retries,
                                    backoff_s=h.backoff_s, seed=seed)
    return out
