"""Helpers for tests that drive real outside programs (Chromium, Prometheus, Alertmanager).

Such a test skips when its program is missing locally, and fails when CI=true: CI
installs the programs itself (.ci/run), so a missing one there is a broken setup.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from web_support import PASSWORD, PEOPLE, Live

T = TypeVar("T")

#: screenshots and logs worth keeping after a run (gitignored)
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
#: access levels that may answer an escalation
ANSWERING = ("approver", "admin")


#: the Debian package of each program the tests run
DEBIAN_PACKAGE = {"chromium": "chromium", "prometheus": "prometheus",
                  "prometheus-alertmanager": "prometheus-alertmanager",
                  "amtool": "prometheus-alertmanager"}


def require_program(name: str) -> str:
    """The path of program `name`; skip the test without it, or fail it in CI."""
    found = shutil.which(name)
    if found is None:
        package = DEBIAN_PACKAGE.get(name, name)
        message = f"{name!r} is not installed (Debian: apt-get install {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must install it (.ci/run)")
        pytest.skip(message)
    return found


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str,
             interval: float = 0.2) -> T:
    """Call `probe` until it returns a true value, and return that; at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def loopback_client(base_url: str) -> httpx.Client:
    """A client for a program under test: loopback only, never through a proxy."""
    return httpx.Client(base_url=base_url, timeout=10, trust_env=False)


def _env_without_proxies() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


@contextmanager
def running(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a program with its output in `log`; terminate it and wait for it afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=_env_without_proxies())
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)


def log_tail(log: Path, lines: int = 30) -> str:
    """The end of a program's log, for an assertion message."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, *,
               timeout: float = 20) -> None:
    """Wait until `url` answers 200, failing early (with the log) if the program exits."""

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args!r} exited with {proc.returncode}:\n"
                                 f"{log_tail(log)}")
        try:
            return httpx.get(url, timeout=2, trust_env=False).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(ready, timeout=timeout, what=f"{url} to answer")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{log_tail(log)}") from None


def cloudevent(i: str, type_: str, subject: str, minutes_ago: float = 1,
               **data: Any) -> dict[str, Any]:
    """A CloudEvent dict stamped `minutes_ago` before now."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)
    return {"specversion": "1.0", "id": i, "source": "test", "type": type_,
            "subject": subject, "time": at.isoformat().replace("+00:00", "Z"), "data": data}


def open_escalation(live: Live) -> dict[str, Any]:
    """Open an escalation through the API: `api` is tier 0, so its restart needs approval."""
    with live.client("operator") as c:
        r = c.post("/api/events", json=cloudevent("down-api", "service.down", "api"))
        assert r.status_code == 202, r.text
    with live.client("viewer") as c:
        (esc,) = c.get("/api/escalations", params={"status": "open"}).json()["items"]
    assert esc["action"]["resource"] == "api" and esc["action"]["kind"] == "restart"
    return dict(esc)


def eligible_answerer(live: Live, esc: dict[str, Any]) -> str:
    """Someone paged for `esc` who may answer it (raj when he is), with a known password.

    Follow-the-sun pages whoever of the rotation is in working hours, so at some hours
    (and at weekends) that is not raj; then the paged person gets the test password.
    """
    access = {p["id"]: p["access"]
              for p in _get(live, "/api/organisation")["people"]}
    paged = [p for h in esc["history"] for p in h["candidates"]] or list(esc["candidates"])
    eligible = [p for p in paged if access.get(p) in ANSWERING]
    assert eligible, f"nobody paged for {esc['id']} may answer it: {paged}"
    person = PEOPLE["approver"] if PEOPLE["approver"] in eligible else eligible[0]
    if person not in PEOPLE.values():
        live.auth.set_password(person, PASSWORD)
    return person


def _get(live: Live, path: str) -> dict[str, Any]:
    with live.client("viewer") as c:
        r = c.get(path)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body
