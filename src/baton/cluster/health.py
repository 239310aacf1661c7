"""/healthz, /readyz and /metrics for a sequencer or a worker, on a port of its own."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class ProcessMetrics:
    """What one cluster process counts, in a registry of its own."""

    def __init__(self, role: str, cell: str) -> None:
        self.registry = CollectorRegistry()
        labels = {"role": role, "cell": cell}
        self.leading = Gauge("baton_leading", "1 while this process leads its cell",
                             list(labels), registry=self.registry).labels(**labels)
        self.epoch = Gauge("baton_epoch", "the epoch this process leads under (0: none)",
                           list(labels), registry=self.registry).labels(**labels)
        self.lag = Gauge("baton_lag_events", "events accepted on the bus, not yet appended",
                         list(labels), registry=self.registry).labels(**labels)
        self.events = Counter("baton_events_sequenced", "events appended to the log",
                              list(labels), registry=self.registry).labels(**labels)
        self.rejected = Counter("baton_bus_messages_rejected",
                                "bus messages that were not a valid event or effect",
                                list(labels), registry=self.registry).labels(**labels)
        self.effects = Counter("baton_effects_carried_out", "effects carried out",
                               [*list(labels), "status"], registry=self.registry)
        self.labels = labels


def health_app(metrics: ProcessMetrics, ready: Callable[[], tuple[bool, dict[str, Any]]]
               ) -> FastAPI:
    """The three endpoints: alive, ready (with why), and Prometheus text."""
    app = FastAPI(title="Baton process", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"ok": True, **metrics.labels}

    @app.get("/readyz")
    def readyz(response: Response) -> dict[str, Any]:
        ok, detail = ready()
        if not ok:
            response.status_code = 503
        return {"ready": ok, **metrics.labels, **detail}

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def serve_health(app: FastAPI, port: int) -> uvicorn.Server:
    """Serve `app` on 127.0.0.1:`port` from a thread (uvicorn leaves signals alone off the
    main thread); returns the server, whose should_exit stops it."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    threading.Thread(target=server.run, name="baton-health", daemon=True).start()
    return server
