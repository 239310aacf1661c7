"""The cluster page and its API: processes and their roles, cells, each leader's epoch,
and lag per cell (events accepted on the bus and not yet decided)."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from baton.cluster.status import status_of
from baton.store.port import Store
from baton.web.render import host_of, render

router = APIRouter()
_lock = threading.Lock()


def _main_store(request: Request) -> Store:
    """A store on the main cell's schema (the host's may be another cell's), kept."""
    host = host_of(request)
    with _lock:
        store = host.cluster_store
        if store is None:
            from baton.store import open_store

            store = host.cluster_store = open_store(host.store.url, create=False)
            host.store.on_close(store.close)
        return store


def cluster_state(request: Request) -> dict[str, Any]:
    """The cluster as `baton cluster status --json` shows it."""
    host = host_of(request)
    state = status_of(_main_store(request), host.bus)
    state["mode"] = "cluster" if host.bus is not None else "embedded"
    return state


@router.get("/api/cluster")
def api_cluster(request: Request) -> dict[str, Any]:
    """Cells (leader, epoch, lag), processes with their roles, and the work queue."""
    return cluster_state(request)


@router.get("/cluster", response_class=HTMLResponse, include_in_schema=False)
def cluster_page(request: Request) -> HTMLResponse:
    """The cluster page."""
    return render(request, "cluster.html", cluster=cluster_state(request))
