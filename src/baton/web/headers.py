"""Security headers on every response: a Content-Security-Policy that allows only Baton's
own scripts and styles, no framing, and no referrer sent to other sites."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: the dashboard: own files only; no inline script, no plugins, no framing, forms post home
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
#: a value report is one self-contained file with its own <style>, and no script
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
#: FastAPI's interactive API docs load Swagger UI with an inline script from its CDN
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: "
            "https://fastapi.tiangolo.com; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'")
FIXED = [(b"x-frame-options", b"DENY"), (b"referrer-policy", b"same-origin"),
         (b"x-content-type-options", b"nosniff")]


def policy_for(path: str) -> str:
    """The Content-Security-Policy of a path."""
    if path == "/report":
        return REPORT_CSP
    if path == "/docs":
        return DOCS_CSP
    return CSP


class SecurityHeaders:
    """ASGI middleware: adds the headers to every HTTP response, streams included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = policy_for(scope.get("path", "")).encode()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in {b"content-security-policy"}]
                message["headers"] = [*headers, (b"content-security-policy", csp), *FIXED]
            await send(message)

        await self.app(scope, receive, sending)
