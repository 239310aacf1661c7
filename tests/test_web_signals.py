"""Risk signals on every page: the kill switch with who and when, overspend in red."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from baton.config import Config
from baton.web.render import templates
from baton.web.timefmt import when
from web_support import PASSWORD, Live, live_server


@pytest.fixture
def live(starter: Config, tmp_path: Path) -> Iterator[Live]:
    with live_server(starter, tmp_path / "signals.db") as server:
        yield server


def _session(c: httpx.Client, person: str) -> str:
    token = re.search(r'name="token" value="([^"]+)"', c.get("/login").text)
    assert token is not None
    c.post("/login", data={"person": person, "password": PASSWORD, "token": token.group(1)})
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/kill-switch").text)
    assert csrf is not None
    return csrf.group(1)


def test_the_kill_switch_needs_a_confirmation_and_then_shows_on_every_page(live: Live) -> None:
    with httpx.Client(base_url=live.url) as admin:
        csrf = _session(admin, "ana")
        r = admin.post("/kill-switch", data={"enabled": "on", "csrf": csrf})
        assert r.status_code == 303
        assert "stayed off" in admin.get("/kill-switch").text
        assert not live.host.engine.actor.killed.get("*")
        admin.post("/kill-switch", data={"enabled": "on", "csrf": csrf, "confirm": "yes",
                                         "comment": "drill at noon"})
        assert live.host.engine.actor.killed.get("*")
    with httpx.Client(base_url=live.url) as viewer:
        token = re.search(r'name="token" value="([^"]+)"', viewer.get("/login").text)
        assert token is not None
        viewer.post("/login", data={"person": "vic", "password": PASSWORD,
                                    "token": token.group(1)})
        for path in ("/", "/feed", "/incidents", "/inbox", "/policies"):
            banner = re.search(r'<p class="kill-banner"[^>]*>(.*?)</p>', viewer.get(path).text)
            assert banner, path
            assert "everything" in banner.group(1) and "by ana" in banner.group(1)
            assert "drill at noon" in banner.group(1) and "UTC" in banner.group(1)
            assert "Turn it off" not in banner.group(1)  # only admins get the link


def test_an_overspent_budget_is_red_with_its_reason() -> None:
    page = templates.get_template("_stats.html").render(o={
        "per_minute": 1, "decisions_24h": 3, "autonomy_rate": 50.0, "p50": 1.0, "p99": 2.0,
        "open_escalations": 0, "at_risk": 0, "incidents": 0, "in_flight": 0, "dead_count": 0,
        "dead_letters": [], "killed": {},
        "budgets": [{"domain": "reliability", "daily": 1500, "used": 2250},
                    {"domain": "cost", "daily": 200, "used": 20}]})
    over, fine = page.split('<div class="budget')[2:4]  # after the "budgets" grid
    assert over.startswith(' over"') and "over by 750" in over
    assert "needs a person's approval" in over and 'href="/feed?domain=reliability' in over
    assert "over" not in fine.split(">")[0]


def test_times_are_marked_up_for_the_viewers_zone() -> None:
    html = str(when("2026-03-02T01:29:00Z"))
    assert html == '<time datetime="2026-03-02T01:29:00Z">Mon 02 Mar 01:29 UTC</time>'
    assert str(when(None)) == "—"
