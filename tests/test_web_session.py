"""Signing in through the web: the login form, sessions, CSRF and the rate limit."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from baton.config import Config
from web_support import PASSWORD, Live, live_server


@pytest.fixture
def live(starter: Config, tmp_path: Path) -> Iterator[Live]:
    with live_server(starter, tmp_path / "web.db") as server:
        yield server


def login(c: httpx.Client, person: str, password: str) -> httpx.Response:
    form = c.get("/login")
    token = re.search(r'name="token" value="([^"]+)"', form.text)
    assert token is not None
    return c.post("/login", data={"person": person, "password": password,
                                  "token": token.group(1), "next": "/inbox"})


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_a_page_sends_an_anonymous_browser_to_the_login_form(live: Live) -> None:
    with httpx.Client(base_url=live.url) as c:
        r = c.get("/inbox", headers={"accept": "text/html"})
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/inbox"


def test_signing_in_opens_a_session_and_signing_out_ends_it(live: Live) -> None:
    with httpx.Client(base_url=live.url) as c:
        r = login(c, "raj", PASSWORD)
        assert r.status_code == 303 and r.headers["location"] == "/inbox"
        page = c.get("/inbox")
        assert page.status_code == 200 and "raj" in page.text
        assert c.get("/api/me").json()["via"] == "session"
        out = c.post("/logout", data={"csrf": csrf_of(page.text)})
        assert out.status_code == 303
        assert c.get("/api/me").status_code == 401


def test_a_wrong_password_is_refused_and_the_sixth_try_is_rate_limited(live: Live) -> None:
    with httpx.Client(base_url=live.url) as c:
        for _ in range(5):
            r = login(c, "raj", "not the password")
            assert "Unknown person or wrong password" in c.get(r.headers["location"]).text
        r = login(c, "raj", PASSWORD)  # even the right password waits now
        assert "too many failed logins" in c.get(r.headers["location"]).text
        assert c.get("/api/me").status_code == 401


def test_a_form_post_without_the_csrf_token_is_refused(live: Live) -> None:
    with httpx.Client(base_url=live.url) as c:
        login(c, "ana", PASSWORD)
        r = c.post("/kill-switch", data={"enabled": "on"})
        assert r.status_code == 403 and "CSRF" in r.json()["error"]
        r = c.post("/kill-switch", data={"enabled": "on", "csrf": "forged"})
        assert r.status_code == 403
        page = c.get("/kill-switch")
        r = c.post("/kill-switch", data={"enabled": "on", "csrf": csrf_of(page.text),
                                         "confirm": "yes"})
        assert r.status_code == 303
        assert c.get("/api/kill-switch").json()["global"] is True


def test_every_dashboard_page_renders_for_a_viewer(live: Live) -> None:
    with live.client("operator") as api:
        api.post("/api/events", json={"specversion": "1.0", "id": "1", "source": "t",
                                      "type": "service.down", "subject": "db",
                                      "time": "2026-03-02T10:00:00Z", "data": {}})
    plan, decision = (d["id"] for d in live.host.store.decisions(limit=10)
                      if d["situation_kind"] != "assignment" and d["outcome"] != "plan updated")
    with httpx.Client(base_url=live.url) as c:
        login(c, "vic", PASSWORD)
        for path in ("/", "/feed", "/inbox", "/organisation", "/policies", "/audit",
                     f"/decisions/{decision}", "/fragments/feed", "/fragments/stats"):
            r = c.get(path)
            assert r.status_code == 200, path
        assert c.get("/kill-switch").status_code == 403
        assert "restart-below-tier0" in c.get(f"/decisions/{decision}").text
        page = c.get(f"/decisions/{plan}").text  # the joint plan, step by step
        assert "Joint plan" in page and "notify-dependent-teams" in page
        assert "The ledger is intact" in c.get("/audit").text


def test_the_dashboard_shows_the_latest_value_report(live: Live, tmp_path: Path) -> None:
    with httpx.Client(base_url=live.url) as c:
        login(c, "vic", PASSWORD)
        assert "No report yet" in c.get("/report").text
        live.host.reports = tmp_path / "reports"
        (tmp_path / "reports" / "replay").mkdir(parents=True)
        (tmp_path / "reports" / "replay" / "report.html").write_text(
            "<html><h1>Baton shadow replay</h1></html>")
        assert "Baton shadow replay" in c.get("/report").text
