"""Rendering pages: the templates, the frame every page shares, redirects and error pages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from baton.auth.roles import Principal
from baton.web import feed as feeds
from baton.web import flash, timefmt, views
from baton.web.explain import linked as linked_ids
from baton.web.host import EngineHost
from baton.web.security import SESSION_COOKIE, principal_of

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["when"] = timefmt.when
templates.env.filters["ms"] = timefmt.millis
templates.env.filters["row_class"] = feeds.row_class
templates.env.filters["linked"] = linked_ids


def host_of(request: Request) -> EngineHost:
    """The engine host of the app serving `request`."""
    host: EngineHost = request.app.state.host
    return host


def render(request: Request, name: str, **context: Any) -> HTMLResponse:
    """A page with the signed-in person, their CSRF token and the inbox count."""
    who = principal_of(request)
    auth = request.app.state.auth
    cookie = request.cookies.get(SESSION_COOKIE, "")
    host = host_of(request)
    if who is not None:
        host.presence.seen(who.person)
    page = templates.TemplateResponse(request, name, {
        "who": who, "csrf": auth.csrf_token(cookie) if who and who.via == "session" else "",
        "inbox_count": inbox_count(host, who), "org_name": host.config.org.name,
        "now": host.now(), "demo": host.demo, "virtual": host.virtual_clock,
        "flash": flash.take(request, cookie) if who else None,
        "rel": lambda path: config_relative(str(path), host.config.root),
        "kill": views.kill_switch_state(host) if who else [], **context})
    flash.clear(request, page)
    return page


def redirect_with(request: Request, target: str, kind: str, text: str, *,
                  secret: str | None = None) -> RedirectResponse:
    """A 303 to `target` that shows `text` once, from the session (never the URL)."""
    page = RedirectResponse(target, status_code=303)
    flash.put(page, request.cookies.get(SESSION_COOKIE, "") if secret is None else secret,
              kind, text)
    return page


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """An error as a page with the navigation, in words, without server paths."""
    host = host_of(request)
    page = render(request, "error.html", status=status,
                  message=hide_paths(message, host.config.root), title=ERROR_TITLES.get(
                      status, "Something went wrong"))
    page.status_code = status
    return page


ERROR_TITLES = {400: "That request could not be read", 403: "Not allowed",
                404: "Not found", 409: "Already changed", 422: "That input was refused"}


def hide_paths(text: str, root: Path) -> str:
    """`text` with the configuration folder and other absolute paths cut to their names."""
    text = text.replace(f"{root}/", "").replace(str(root), "the configuration folder")
    return re.sub(r"(?<![\w:])/(?:home|work|tmp|usr|var|etc|opt|srv|root|mnt|data|app)"
                  r"/(?:[\w.-]+/)*([\w.-]+)", r"\1", text)


def config_relative(path: str, root: Path) -> str:
    """A configuration file's path inside the configuration folder (never the server's)."""
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return Path(path).name


def inbox_count(host: EngineHost, who: Principal | None) -> int:
    """Open escalations the viewer may answer now."""
    from baton.escalation.rules import check_answer

    if who is None:
        return 0
    now = host.now()
    with host.lock:
        waiting = list(host.engine.actor.open.values())
    return sum(1 for esc in waiting
               if check_answer(host.config.org, esc, who.person, at=now) is None)
