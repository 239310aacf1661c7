"""Errors as JSON with a message that says what was wrong; 4xx for bad input, never 500."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from baton.errors import BatonError, ConflictError, ForbiddenError, InputError, NotFoundError


class ApiError(Exception):
    """An error with an HTTP status and a message for the caller."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ErrorBody(BaseModel):
    """Every error answer: one sentence that says what was wrong."""

    error: str


MEANING = {400: "The body could not be read", 401: "Not signed in",
           403: "The caller may not do this", 404: "No such thing",
           409: "In conflict with the current state (already answered, expired, "
                "or a change outside policy)",
           413: "The body is larger than the server accepts",
           422: "Invalid input, or input that a rule refuses"}


def declare(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI declarations of a route's error answers, for `responses=`."""
    return {code: {"model": ErrorBody, "description": MEANING[code]} for code in codes}


STATUS = {NotFoundError: 404, ConflictError: 409, InputError: 422, ForbiddenError: 403}


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "") and \
        not request.url.path.startswith("/api/")


HtmlPage = Callable[[Request, int, str], Response]


def install(app: FastAPI, html: HtmlPage | None = None) -> None:
    """Map Baton's errors to JSON responses; a browser gets a login redirect or `html`."""

    def answer(request: Request, status: int, message: str,
               headers: Mapping[str, str] | None = None) -> Response:
        if html is not None and _wants_html(request):
            return html(request, status, message)
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> Response:
        if exc.status == 401 and _wants_html(request):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return answer(request, exc.status, exc.message)

    @app.exception_handler(BatonError)
    async def _baton(request: Request, exc: BatonError) -> Response:
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
        return answer(request, status, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and exc.detail == "Not Found":
            return answer(request, 404, f"there is no page at {request.url.path}")
        return answer(request, exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in _relevant(exc.errors())[:5]:
            problems.append(f"{_where(err.get('loc', ()))}: {err.get('msg', 'invalid')}")
        return JSONResponse({"error": "invalid request: " + "; ".join(problems)},
                            status_code=422)


#: pydantic's "not this kind of value" errors: for a body that may be one of several kinds
#: (one CloudEvent or a batch), the kinds it is not are noise beside what is wrong in it
_KIND_MISMATCH = frozenset({"list_type", "model_type", "dict_type", "model_attributes_type"})


def _relevant(errors: Sequence[Any]) -> list[Any]:
    """The errors worth reporting: a union's kind mismatches only when nothing else is."""
    specific = [e for e in errors if not (e.get("type") in _KIND_MISMATCH
                                          and _is_union_branch(e.get("loc", ())))]
    return specific or list(errors)


def _is_union_branch(loc: Sequence[Any]) -> bool:
    """Whether `loc` is ('body', <a type such as CloudEvent or list[CloudEvent]>)."""
    tag = loc[1] if len(loc) == 2 else None
    return isinstance(tag, str) and (tag[:1].isupper() or "[" in tag)


def _where(loc: Sequence[Any]) -> str:
    """Where a problem is, in the caller's terms: 'field 'subject'', 'event 2: field 'id''."""
    parts = list(loc)
    if parts[:1] == ["body"]:
        parts = parts[1:]
        if parts and _is_union_branch(("body", parts[0])):
            parts = parts[1:]  # which of the body's kinds pydantic tried is not the caller's
        if parts and isinstance(parts[0], int):
            rest = ".".join(str(p) for p in parts[1:])
            return f"event {parts[0]}" + (f": field {rest!r}" if rest else "")
        return f"field {'.'.join(str(p) for p in parts)!r}" if parts else "the body"
    return " ".join(str(p) for p in parts)  # query and path parameters: "query limit"
