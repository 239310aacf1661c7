"""Security headers on every response, and flash messages that a URL cannot forge."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from baton.config import Config
from baton.web.headers import CSP
from web_support import PASSWORD, Live, live_server

TEMPLATES = Path(__file__).resolve().parent.parent / "src" / "baton" / "web" / "templates"


@pytest.fixture
def live(starter: Config, tmp_path: Path) -> Iterator[Live]:
    with live_server(starter, tmp_path / "headers.db") as server:
        yield server


def _signed_in(c: httpx.Client, person: str) -> str:
    form = c.get("/login")
    token = re.search(r'name="token" value="([^"]+)"', form.text)
    assert token is not None
    r = c.post("/login", data={"person": person, "password": PASSWORD,
                               "token": token.group(1), "next": "/inbox"})
    assert r.status_code == 303, r.text
    found = re.search(r'name="csrf" value="([^"]+)"', c.get("/inbox").text)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("path", ["/", "/login", "/inbox", "/api/decisions", "/static/baton.js",
                                  "/no-such-page", "/stream"])
def test_every_response_carries_the_security_headers(live: Live, path: str) -> None:
    with live.client("viewer") as c:
        if path == "/stream":
            with c.stream("GET", path) as r:
                headers = r.headers
        else:
            headers = c.get(path).headers
    assert headers["content-security-policy"] == CSP
    assert "script-src 'self';" in CSP and "unsafe-inline" not in CSP
    assert "frame-ancestors 'none'" in CSP
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-content-type-options"] == "nosniff"


def test_no_template_needs_inline_script_or_style() -> None:
    for page in TEMPLATES.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=", text)
        assert inline == [], f"{page.name} has inline script or style: {inline}"


def test_a_link_cannot_put_text_in_the_inbox_banner(live: Live) -> None:
    with httpx.Client(base_url=live.url) as c:
        _signed_in(c, "raj")
        page = c.get("/inbox", params={"message": "Send your password to evil.example",
                                       "error": "Your account is locked; call +1 555"})
        assert page.status_code == 200
        assert "evil.example" not in page.text and "555" not in page.text
        login = c.get("/login", params={"error": "Session expired: call +1 555"})
        assert "555" not in login.text


def test_an_answer_shows_its_result_once_from_the_session(live: Live) -> None:
    from integration_support import open_escalation

    esc = open_escalation(live)
    with httpx.Client(base_url=live.url) as c:
        csrf = _signed_in(c, "ana")
        r = c.post(f"/inbox/{esc['id']}", data={"decision": "approve", "csrf": csrf,
                                                "comment": "go"})
        assert r.status_code == 303 and r.headers["location"] == "/inbox"
        first = c.get("/inbox").text
        assert f"{esc['id']}: approved; executed" in first
        assert "approved; executed" not in c.get("/inbox").text  # shown once


def test_a_flash_cookie_from_another_session_is_ignored(live: Live) -> None:
    from integration_support import open_escalation

    esc = open_escalation(live)
    with httpx.Client(base_url=live.url) as alice, httpx.Client(base_url=live.url) as bob:
        csrf = _signed_in(alice, "ana")
        r = alice.post(f"/inbox/{esc['id']}", data={"decision": "reject", "csrf": csrf})
        stolen = r.cookies["baton_flash"]
        _signed_in(bob, "raj")
        bob.cookies.set("baton_flash", stolen)
        assert "rejected" not in bob.get("/inbox").text
        tampered = stolen[:-4] + ("0000" if not stolen.endswith("0000") else "1111")
        alice.cookies.set("baton_flash", tampered)
        assert esc["id"] + ":" not in alice.get("/inbox").text
