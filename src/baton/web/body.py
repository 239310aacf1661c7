"""JSON request bodies read within Baton's input limits, before FastAPI and pydantic see them.

FastAPI decodes a JSON body with the standard library, which keeps the last of duplicate
keys, accepts NaN and Infinity, and reads any size and depth. A router whose routes are
`StrictJsonRoute`s reads the body itself first: at most `limits.MAX_BODY_BYTES` (413
beyond, after draining a bounded remainder so the connection stays usable), decoded by
`limits.loads` (422 naming the field). FastAPI then gets the decoded value as it is.
"""

from __future__ import annotations

import email.message
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope

from baton.errors import InputError
from baton.model import limits
from baton.web.errors import ApiError

#: a body up to this size is read to its end before a 413, so the connection can carry the
#: next request; a larger one is answered at once (the server may then close the connection)
DRAIN_BYTES = 16 * limits.MAX_BODY_BYTES

_UNREAD = object()


def is_json(content_type: str | None) -> bool:
    """Whether FastAPI would decode a body of this content type as JSON."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json"))


def too_large(size: int | None = None) -> ApiError:
    """The 413 answer for a body over the limit."""
    told = f" ({size} bytes)" if size is not None else ""
    return ApiError(413, f"the body is larger than {limits.MAX_BODY_BYTES} bytes{told}, the "
                         "most one request may carry; send fewer events per request")


async def plain_text(request: Request) -> None:
    """Refuse a NUL character or a lone surrogate in a path parameter, query parameter or
    form field: no column of the store can hold one (PostgreSQL refuses NUL), and no name
    Baton knows contains one."""
    fields = [(f"path parameter {name!r}", value)
              for name, value in request.path_params.items()]
    fields += [(f"query parameter {name!r}", f"{name}={value}")
               for name, value in request.query_params.multi_items()]
    if request.method != "GET" and "form" in request.headers.get("content-type", ""):
        form = await request.form()  # (read once: FastAPI and the routes get the same)
        fields += [(f"form field {name!r}", f"{name}={value}")
                   for name, value in form.multi_items() if isinstance(value, str)]
    for what, value in fields:
        problem = limits.text_problem(value)
        if problem:
            raise InputError(f"{what} {problem}")


class LimitedRequest(Request):
    """A request whose body is read at most up to the limit and whose JSON is strict."""

    def __init__(self, scope: Scope, receive: Receive, locate: limits.Locator) -> None:
        super().__init__(scope, receive)
        self.locate = locate
        self._limited: bytes | None = None
        self._decoded: Any = _UNREAD

    async def body(self) -> bytes:
        if self._limited is None:
            declared = self.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > DRAIN_BYTES:
                raise too_large(int(declared))
            chunks: list[bytes] = []
            size = 0
            async for chunk in self.stream():
                size += len(chunk)
                if size <= limits.MAX_BODY_BYTES:
                    chunks.append(chunk)
                elif size > DRAIN_BYTES:
                    break
            if size > limits.MAX_BODY_BYTES:
                raise too_large(size if size <= DRAIN_BYTES else None)
            self._limited = self._body = b"".join(chunks)  # (Starlette's form() reads _body)
        return self._limited

    async def json(self) -> Any:
        if self._decoded is _UNREAD:
            self._decoded = limits.loads(await self.body(), locate=self.locate)
        return self._decoded


class StrictJsonRoute(APIRoute):
    """A route whose JSON body is read by `LimitedRequest` before FastAPI decodes it."""

    def locate(self, path: limits.Path) -> str:
        """The start of a message about the value at `path` of this route's body."""
        if not path:
            return "the body"
        return f"field {limits.field_path(path)!r}"

    def reshape(self, request: LimitedRequest, value: Any) -> Any:
        """The body FastAPI should see, from the decoded one (None: no JSON body)."""
        return value

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def strict(request: Request) -> Response:
            limited = LimitedRequest(request.scope, request.receive, self.locate)
            # Errors raised here reach the app's error handlers as they are; raised while
            # FastAPI reads the body, they would become its generic 400.
            value = None
            if await limited.body() and is_json(limited.headers.get("content-type")):
                value = await limited.json()
            shaped = self.reshape(limited, value)
            if shaped is not value:
                limited._decoded = shaped
                limited._limited = limited._body = b"{}" if not limited._limited else \
                    limited._limited  # FastAPI reads a body only when there is one
            return await handle(limited)

        return strict
