"""The FastAPI application: API, dashboard pages and the access rule on every route."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from baton.agents import web as agents
from baton.web import (
    api_act,
    api_ingest,
    api_read,
    audit_pages,
    autonomy_pages,
    cluster_page,
    errors,
    login,
    pages,
    render,
)
from baton.web.body import plain_text
from baton.web.headers import SecurityHeaders
from baton.web.host import EngineHost
from baton.web.security import enforce

STATIC = Path(__file__).parent / "static"


def create_app(host: EngineHost, auth: Any) -> FastAPI:
    """An app serving one engine host; `auth` authenticates sessions and tokens."""
    app = FastAPI(title="Baton", version="0.1.0",
                  dependencies=[Depends(enforce), Depends(plain_text)],
                  redoc_url=None, swagger_ui_oauth2_redirect_url=None,
                  description="Governed autonomous agents for operations coordination: "
                              "ingest events, read decisions, answer escalations.")
    app.state.host = host
    app.state.auth = auth
    host.metrics.attach(host)
    errors.install(app, html=render.error_page)
    for module in (api_ingest, api_read, api_act, login, pages, audit_pages, cluster_page):
        app.include_router(module.router)
    app.include_router(autonomy_pages.router)
    app.include_router(autonomy_pages.api)
    agents.install(app, host, auth)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(SecurityHeaders)
    return app
