"""HTTP connector: POSTs an action as JSON, retrying transient failures under one key."""

from __future__ import annotations

import string
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from baton.execution.port import ActionRequest, Connector, ExecResult
from baton.execution.retry import backoff_delay

URL_PLACEHOLDERS = frozenset({"kind", "resource"})
_EXCERPT_CHARS = 200

# Errors where the request may not have reached the target, or the target may recover.
_RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)
# Everything else the client can throw for a bad target or URL: fail without retrying.
_FATAL_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError)


def _check_url_template(url: str) -> None:
    """Raise ValueError unless `url` only uses the {kind} and {resource} placeholders."""
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(url) if field is not None]
    except ValueError as exc:
        raise ValueError(f"malformed url template {url!r}: {exc}") from exc
    unknown = sorted(set(fields) - URL_PLACEHOLDERS)
    if unknown:
        raise ValueError(
            f"url template {url!r} uses unknown placeholders {unknown}; "
            f"allowed: {sorted(URL_PLACEHOLDERS)} (write literal braces as {{{{ and }}}})"
        )


def _excerpt(text: str) -> str:
    """Return a one-line excerpt of a response body for error details."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _EXCERPT_CHARS else flat[:_EXCERPT_CHARS] + "..."


def _json_body(response: httpx.Response) -> dict[str, Any]:
    """Return the body parsed as JSON (non-objects under "json"), or {} if it is not JSON."""
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    if isinstance(body, dict):
        return body
    return {"json": body}


class HttpConnector(Connector):
    """POSTs each action to an HTTP endpoint that dedupes by the Idempotency-Key header.

    The body is ``{"idempotency_key", "decision", "domain", "at", "action": {...}}``.
    5xx, 429, connection errors and timeouts are retried (same key every time) up to
    `retries` more times, waiting ``backoff_delay(attempt, ...)`` between attempts;
    any other non-2xx status fails at once. `url` may hold ``{kind}`` and ``{resource}``,
    filled from the action (URL-quoted). A `client` passed in is not closed by `close()`.
    """

    name = "http"
    idempotent = True

    def __init__(
        self,
        *,
        url: str,
        timeout_s: float = 5.0,
        retries: int = 3,
        backoff_s: float = 0.2,
        max_backoff_s: float = 5.0,
        seed: int = 0,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        _check_url_template(url)
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        if backoff_s < 0 or max_backoff_s < 0:
            raise ValueError("backoff_s and max_backoff_s must be >= 0")
        self.url = url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.seed = seed
        # The key header is always ours; drop any spelling of it from the configured headers.
        self.headers = {
            name: value
            for name, value in (headers or {}).items()
            if name.lower() != "idempotency-key"
        }
        self._sleep = sleep
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client()

    def target_url(self, request: ActionRequest) -> str:
        """Return the URL for one request, with {kind} and {resource} filled in and quoted."""
        action = request.action
        return self.url.format(
            kind=quote(action.kind, safe=""), resource=quote(action.resource, safe="")
        )

    def payload(self, request: ActionRequest) -> dict[str, Any]:
        """Return the JSON body sent for one request."""
        return {
            "idempotency_key": request.idempotency_key,
            "decision": request.decision,
            "domain": request.domain,
            "at": request.at.isoformat(),
            "action": request.action.model_dump(mode="json"),
        }

    def execute(self, request: ActionRequest) -> ExecResult:
        """POST the action, retrying transient failures; never raise for target failures."""
        key = request.idempotency_key
        url = self.target_url(request)
        body = self.payload(request)
        headers = {**self.headers, "Idempotency-Key": key}
        last = "no attempt made"
        last_body: dict[str, Any] = {}
        attempts = 0
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(
                    backoff_delay(
                        attempt - 1,
                        base=self.backoff_s,
                        cap=self.max_backoff_s,
                        seed=self.seed,
                        key=key,
                    )
                )
            attempts = attempt + 1
            try:
                response = self._client.post(
                    url, json=body, headers=headers, timeout=self.timeout_s
                )
            except httpx.TimeoutException as exc:
                last_body = {}
                last = f"timeout after {self.timeout_s}s ({type(exc).__name__})"
                continue
            except _RETRYABLE_ERRORS as exc:
                last_body = {}
                last = f"{type(exc).__name__}: {exc}"
                continue
            except _FATAL_ERRORS as exc:
                return ExecResult(
                    ok=False, attempts=attempts, detail=f"{type(exc).__name__}: {exc}"
                )
            status = response.status_code
            parsed = _json_body(response)
            if response.is_success:
                return ExecResult(
                    ok=True,
                    attempts=attempts,
                    detail=f"HTTP {status} after {attempts} attempt(s)",
                    response=parsed,
                )
            last, last_body = f"HTTP {status}: {_excerpt(response.text)}", parsed
            if status != 429 and status < 500:
                return ExecResult(ok=False, attempts=attempts, detail=last, response=parsed)
        return ExecResult(
            ok=False,
            attempts=attempts,
            detail=f"gave up after {attempts} attempt(s); last: {last}",
            response=last_body,
        )

    def close(self) -> None:
        """Close the HTTP client if this connector created it."""
        if self._owns_client:
            self._client.close()
