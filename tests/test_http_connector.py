"""HttpConnector against a real local HTTP server whose replies are scripted per test."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from baton.execution.http import HttpConnector
from baton.execution.port import ActionRequest
from baton.execution.retry import backoff_delay, jitter_factor
from baton.model import Action

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def request(key: str = "k-1", resource: str = "svc-a", **params: Any) -> ActionRequest:
    """Build a request to restart `resource`."""
    return ActionRequest(
        idempotency_key=key,
        action=Action(kind="restart", resource=resource, params=params),
        decision="d-1",
        domain="ops",
        at=AT,
    )


@dataclass(frozen=True)
class Reply:
    """What the server answers to one request."""

    status: int = 200
    body: bytes = b'{"accepted": true}'
    delay_s: float = 0.0


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Script:
    """Replies in order (the last one repeats) and the requests seen so far."""

    replies: list[Reply] = field(default_factory=lambda: [Reply()])
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)

    def record(self, seen: Seen) -> Reply:
        """Record a request and return the reply scripted for it."""
        with self.lock:
            index = len(self.seen)
            self.seen.append(seen)
            return self.replies[min(index, len(self.replies) - 1)]

    def keys(self) -> list[str]:
        """Return the Idempotency-Key header of every request seen."""
        with self.lock:
            return [s.headers.get("idempotency-key", "") for s in self.seen]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    script: Script

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client gave up (timeouts are part of the tests)."""


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        script = cast(_Server, self.server).script
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = script.record(Seen(path=self.path, headers=headers, body=json.loads(raw)))
        if reply.delay_s:
            script.release.wait(reply.delay_s)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:
            pass  # the client timed out and hung up

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""


@dataclass
class Target:
    """A running scripted server."""

    url: str
    script: Script


@pytest.fixture
def target() -> Iterator[Target]:
    """Run a scripted HTTP server on 127.0.0.1 for one test, then shut it down."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.script = Script()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Target(url=f"http://127.0.0.1:{server.server_address[1]}", script=server.script)
    finally:
        server.script.release.set()  # wake handlers that are still sleeping
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A URL on a port that is bound but not listening, so connections are refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/actions"
    finally:
        sock.close()


def connector(url: str, delays: list[float], **kwargs: Any) -> HttpConnector:
    """Build a connector that records its backoff delays instead of sleeping."""
    kwargs.setdefault("timeout_s", 2.0)
    return HttpConnector(url=url, sleep=delays.append, **kwargs)


def test_success_posts_the_request_as_json_with_the_idempotency_key(target: Target) -> None:
    delays: list[float] = []
    target.script.replies = [Reply(200, b'{"accepted": true, "id": 7}')]
    conn = connector(target.url + "/actions/{kind}/{resource}", delays, headers={"X-Team": "ops"})
    try:
        result = conn.execute(request(resource="svc a/b", replicas=3))
    finally:
        conn.close()
    assert result.ok
    assert result.attempts == 1
    assert result.response == {"accepted": True, "id": 7}
    assert delays == []
    (seen,) = target.script.seen
    assert seen.path == "/actions/restart/svc%20a%2Fb"
    assert seen.headers["idempotency-key"] == "k-1"
    assert seen.headers["x-team"] == "ops"
    assert seen.body == {
        "idempotency_key": "k-1",
        "decision": "d-1",
        "domain": "ops",
        "at": AT.isoformat(),
        "action": {
            "kind": "restart",
            "resource": "svc a/b",
            "resource_type": "Service",
            "params": {"replicas": 3},
            "amount": 0,
            "compensation": None,
        },
    }


def test_retries_reuse_the_same_idempotency_key(target: Target) -> None:
    delays: list[float] = []
    target.script.replies = [Reply(503, b"busy"), Reply(503, b"busy"), Reply(200)]
    conn = connector(target.url, delays, retries=3)
    try:
        result = conn.execute(request(key="same-key"))
    finally:
        conn.close()
    assert result.ok
    assert result.attempts == 3
    assert target.script.keys() == ["same-key"] * 3
    assert [s.body["idempotency_key"] for s in target.script.seen] == ["same-key"] * 3
    assert len(delays) == 2


@pytest.mark.parametrize("name", ["Idempotency-Key", "idempotency-key", "IDEMPOTENCY-KEY"])
def test_a_header_cannot_override_the_idempotency_key(target: Target, name: str) -> None:
    conn = connector(target.url, [], headers={name: "forged", "X-Team": "ops"})
    try:
        assert conn.execute(request(key="real")).ok
    finally:
        conn.close()
    assert target.script.keys() == ["real"]
    assert "forged" not in str(target.script.seen[0].headers)


def test_persistent_server_errors_give_up_after_retries_plus_one_attempts(
    target: Target,
) -> None:
    delays: list[float] = []
    target.script.replies = [Reply(500, b'{"error": "boom"}')]
    conn = connector(target.url, delays, retries=2)
    try:
        result = conn.execute(request())
    finally:
        conn.close()
    assert not result.ok
    assert result.attempts == 3
    assert len(target.script.seen) == 3
    assert len(delays) == 2
    assert "HTTP 500" in result.detail
    assert "boom" in result.detail
    assert result.response == {"error": "boom"}


def test_too_many_requests_is_retried(target: Target) -> None:
    target.script.replies = [Reply(429, b"slow down"), Reply(200)]
    conn = connector(target.url, [])
    try:
        result = conn.execute(request())
    finally:
        conn.close()
    assert result.ok
    assert result.attempts == 2


@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_client_errors_fail_at_once_with_status_and_body(target: Target, status: int) -> None:
    delays: list[float] = []
    target.script.replies = [Reply(status, b"resource svc-a is not restartable"), Reply(200)]
    conn = connector(target.url, delays, retries=3)
    try:
        result = conn.execute(request())
    finally:
        conn.close()
    assert not result.ok
    assert result.attempts == 1
    assert len(target.script.seen) == 1
    assert delays == []
    assert f"HTTP {status}" in result.detail
    assert "not restartable" in result.detail


def test_long_error_bodies_are_cut_to_an_excerpt(target: Target) -> None:
    target.script.replies = [Reply(400, b"x" * 10_000)]
    conn = connector(target.url, [])
    try:
        result = conn.execute(request())
    finally:
        conn.close()
    assert not result.ok
    assert len(result.detail) < 400


def test_timeouts_are_retried_and_finally_fail(target: Target) -> None:
    delays: list[float] = []
    target.script.replies = [Reply(200, delay_s=3.0)]
    conn = connector(target.url, delays, timeout_s=0.2, retries=2)
    started = time.monotonic()
    try:
        result = conn.execute(request())
    finally:
        conn.close()
    elapsed = time.monotonic() - started
    assert not result.ok
    assert result.attempts == 3
    assert "timeout" in result.detail
    assert len(target.script.seen) == 3
    assert target.script.keys() == ["k-1"] * 3
    assert len(delays) == 2
    assert elapsed < 2.0


def test_a_timeout_followed_by_success_is_ok(target: Target) -> None:
    target.script.replies = [Reply(200, delay_s=3.0), Reply(200)]
    conn = connector(target.url, [], timeout_s=0.2)
    try:
        result = conn.execute(request())
    finally:
        conn.close()
    assert result.ok
    assert result.attempts == 2


def test_connection_refused_fails_without_raising(refused_url: str) -> None:
    delays: list[float] = []
    conn = connector(refused_url, delays, retries=2)
    try:
        result = conn.execute(request())
    finally:
        conn.close()
    assert not result.ok
    assert result.attempts == 3
    assert "ConnectError" in result.detail
    assert len(delays) == 2


def test_jitter_is_deterministic_per_seed_and_key(target: Target) -> None:
    target.script.replies = [Reply(500)]

    def delays_for(key: str, seed: int) -> list[float]:
        delays: list[float] = []
        conn = connector(target.url, delays, retries=4, seed=seed)
        try:
            conn.execute(request(key=key))
        finally:
            conn.close()
        return delays

    first = delays_for("key-a", seed=1)
    assert len(first) == 4
    assert delays_for("key-a", seed=1) == first
    assert delays_for("key-b", seed=1) != first
    assert delays_for("key-a", seed=2) != first


def test_backoff_grows_exponentially_and_is_capped(target: Target) -> None:
    delays: list[float] = []
    target.script.replies = [Reply(503)]
    conn = connector(target.url, delays, retries=6, backoff_s=0.1, max_backoff_s=0.5)
    try:
        conn.execute(request())
    finally:
        conn.close()
    envelope = [0.1, 0.2, 0.4, 0.5, 0.5, 0.5]
    assert len(delays) == len(envelope)
    for delay, top in zip(delays, envelope, strict=True):
        assert 0.5 * top <= delay <= top
    assert max(delays) <= 0.5


def test_an_injected_client_is_used_and_left_open(target: Target) -> None:
    with httpx.Client() as client:
        conn = HttpConnector(url=target.url, client=client, sleep=lambda _: None)
        assert conn.execute(request()).ok
        conn.close()
        assert not client.is_closed


@pytest.mark.parametrize(
    "url", ["http://h/{action}", "http://h/{kind.__class__}", "http://h/{", "http://h/{0}"]
)
def test_bad_url_templates_are_rejected_when_built(url: str) -> None:
    with pytest.raises(ValueError):
        HttpConnector(url=url)


@given(
    attempt=st.integers(min_value=0, max_value=2000),
    base=st.floats(min_value=0, max_value=10, allow_nan=False),
    cap=st.floats(min_value=0, max_value=60, allow_nan=False),
    seed=st.integers(),
    key=st.text(max_size=20),
)
def test_backoff_delay_stays_within_half_and_full_capped_exponential(
    attempt: int, base: float, cap: float, seed: int, key: str
) -> None:
    delay = backoff_delay(attempt, base=base, cap=cap, seed=seed, key=key)
    top = min(cap, base * 2.0 ** min(attempt, 1000))
    assert 0.5 * top <= delay <= top
    assert delay == backoff_delay(attempt, base=base, cap=cap, seed=seed, key=key)
    assert 0.5 <= jitter_factor(attempt, seed=seed, key=key) <= 1.0
