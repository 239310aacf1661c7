"""Authentication and the one authorization check every route passes through."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.routing import Mount, Route

from baton.auth.roles import Principal, at_least
from baton.web.errors import ApiError
from baton.web.rules import AGENT, ANONYMOUS, RULES

SESSION_COOKIE = "baton_session"
CSRF_HEADER = "x-csrf-token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def principal_of(request: Request) -> Principal | None:
    """Who is calling: a bearer token, else a session cookie, else nobody."""
    cached = request.scope.get("baton.principal", False)
    if cached is not False:
        return cached  # type: ignore[no-any-return]
    auth = request.app.state.auth
    found: Principal | None = None
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        found = auth.token_principal(header[7:].strip())
    elif SESSION_COOKIE in request.cookies:
        found = auth.session_principal(request.cookies[SESSION_COOKIE])
    request.scope["baton.principal"] = found
    return found


def rule_for(request: Request) -> str | None:
    """The access the matched route needs, or None when the route has no rule."""
    route: Any = request.scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return None
    return RULES.get((request.method, path))


async def enforce(request: Request) -> None:
    """Refuse the request unless the caller's access meets the route's rule."""
    need = rule_for(request)
    if need is None:
        raise ApiError(403, "this route has no access rule, so nobody may call it")
    if need in (ANONYMOUS, AGENT):  # an agent's route checks the agent's token itself
        return
    who = principal_of(request)
    if who is None:
        raise ApiError(401, "sign in, or send an API token as 'Authorization: Bearer <token>'")
    if not at_least(who.access, need):
        raise ApiError(403, f"{who.person} has {who.access} access; this needs {need}")
    if request.method in UNSAFE and who.via == "session":
        token = request.headers.get(CSRF_HEADER)
        if token is None:
            form = await request.form()
            value = form.get("csrf")
            token = value if isinstance(value, str) else None
        if not token or not request.app.state.auth.check_csrf(
                request.cookies[SESSION_COOKIE], token):
            raise ApiError(403, "missing or wrong CSRF token; reload the page and try again")


def flat_routes(routes: list[Any]) -> list[Any]:
    """Every route, with included routers opened up (FastAPI keeps them as one entry)."""
    out: list[Any] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        out.extend(flat_routes(list(inner.routes)) if inner is not None else [route])
    return out


def route_keys(routes: list[Any]) -> list[tuple[str, str]]:
    """(method, path) of every route and mount; HEAD is left out (it follows GET)."""
    keys: list[tuple[str, str]] = []
    for route in flat_routes(routes):
        if isinstance(route, Mount):
            keys.append(("GET", route.path))
        elif isinstance(route, Route):
            keys += [(m, route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
    return keys


def routes_without_rules(routes: list[Any]) -> list[tuple[str, str]]:
    """(method, path) of every route that has no rule (used by the tests)."""
    return [key for key in route_keys(routes) if key not in RULES]
