"""Signing in and out of the dashboard."""

from __future__ import annotations

import secrets
from urllib.parse import quote_plus

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from baton.errors import BatonError
from baton.web import flash
from baton.web.render import host_of, redirect_with, templates
from baton.web.security import SESSION_COOKIE, principal_of

router = APIRouter(include_in_schema=False)
LOGIN_CSRF = "baton_login_csrf"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    """The sign-in form."""
    token = secrets.token_urlsafe(24)
    message = flash.take(request, request.cookies.get(LOGIN_CSRF, ""))
    page = templates.TemplateResponse(request, "login.html", {
        "next": next if next.startswith("/") and not next.startswith("//") else "/",
        "error": message["text"] if message else "", "token": token,
        "org_name": host_of(request).config.org.name})
    page.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict")
    flash.clear(request, page)
    return page


def _login_again(request: Request, text: str, next: str) -> RedirectResponse:
    target = f"/login?next={_q(next)}" if next.startswith("/") and next != "/" else "/login"
    return redirect_with(request, target, "bad", text,
                         secret=request.cookies.get(LOGIN_CSRF, ""))


@router.post("/login")
def login(request: Request, person: str = Form(...), password: str = Form(...),
          token: str = Form(...), next: str = Form("/")) -> Response:
    """Check the password (rate-limited) and start a session."""
    if not secrets.compare_digest(token, request.cookies.get(LOGIN_CSRF, "")):
        return _login_again(request, "The form expired; try again", next)
    ip = request.client.host if request.client else None
    try:
        session = request.app.state.auth.login(person.strip(), password, ip=ip)
    except BatonError as exc:
        return _login_again(request, str(exc), next)
    if session is None:
        return _login_again(request, "Unknown person or wrong password", next)
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    page = RedirectResponse(target, status_code=303)
    lifetime = (session.expires - request.app.state.auth.store.now()).total_seconds()
    page.set_cookie(SESSION_COOKIE, session.cookie, httponly=True, samesite="lax",
                    max_age=max(60, int(lifetime)))
    page.delete_cookie(LOGIN_CSRF)
    return page


def _q(text: str) -> str:
    return quote_plus(text[:300])


@router.post("/logout")
def logout(request: Request) -> Response:
    """End the session."""
    who = principal_of(request)
    if who is not None:
        host_of(request).presence.left(who.person)
    request.app.state.auth.logout(request.cookies.get(SESSION_COOKIE, ""))
    page = RedirectResponse("/login", status_code=303)
    page.delete_cookie(SESSION_COOKIE)
    return page
