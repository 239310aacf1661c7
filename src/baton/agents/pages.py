"""The dashboard's agents page: each outside and LLM agent with its decisions and record."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from baton.agents.record import track_records
from baton.web.host import EngineHost
from baton.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/agents", response_class=HTMLResponse)
def agents_page(request: Request) -> HTMLResponse:
    """Outside and LLM agents: owner, domain, limits, kill switch, how their proposals ended."""
    host: EngineHost = request.app.state.host
    org = host.config.org
    with host.lock:
        killed = {a for a, on in host.engine.roster.killed.items() if on}
    return render(request, "agents.html", rows=track_records(host.store, org), killed=killed,
                  specs=org.agent)
