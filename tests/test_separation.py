"""Separation of duties and sign-in: the raiser is whoever authenticated, lock-out is no
weapon, forwarded addresses count only from listed proxies, a password change revokes
tokens, and `baton approve` / `baton reject` name an eligible person."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from baton.cli import app
from baton.config import Config, load_config
from test_api import NOW, ce
from web_support import PASSWORD, Live, live_server


@pytest.fixture
def live(starter: Config, tmp_path: Path) -> Iterator[Live]:
    with live_server(starter, tmp_path / "sod.db") as server:
        yield server


def open_escalation(live: Live, access: str, raised_by: str | None = None) -> str:
    data = {} if raised_by is None else {"raised_by": raised_by}
    with live.client(access) as c:
        r = c.post("/api/events", json=ce("down-api", "service.down", "api", 1, **data))
        assert r.status_code == 202, r.text
    (esc,) = live.host.store.escalations(status="open")
    return esc.id


def test_an_admin_cannot_approve_her_own_request(live: Live) -> None:
    esc = open_escalation(live, "admin")  # ana posts service.down for api
    assert live.host.store.escalation(esc).raised_by == "ana"  # type: ignore[union-attr]
    with live.client("admin") as c:
        r = c.post(f"/api/escalations/{esc}/approve", json={"comment": "mine"})
    assert r.status_code == 403
    assert "ana raised this request" in r.json()["error"]
    assert live.world.requests == []  # nothing ran


def test_raised_by_in_the_event_data_is_ignored(live: Live) -> None:
    # the first person paged is whoever is on call for api's team at the event's time (the
    # starter's rotation follows the sun, so it depends on the hour the test runs)
    paged = live.host.config.org.oncall("platform", NOW - timedelta(minutes=1))
    # an operator names that approver as the raiser, to keep them from answering
    esc = open_escalation(live, "operator", raised_by=paged)
    stored = live.host.store.escalation(esc)
    assert stored is not None and stored.raised_by == "ola"
    assert stored.candidates[0] == paged
    token = live.auth.create_token(paged)[1]
    with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {token}"},
                      timeout=30) as c:  # they may still answer
        r = c.post(f"/api/escalations/{esc}/approve", json={})
    assert r.status_code == 200, r.text
    assert r.json()["decided_by"] == paged


def login(c: httpx.Client, password: str, **headers: str) -> httpx.Response:
    form = c.get("/login")
    token = re.search(r'name="token" value="([^"]+)"', form.text)
    assert token is not None
    return c.post("/login", headers=headers, data={
        "person": "ana", "password": password, "token": token.group(1), "next": "/"})


def test_a_forwarded_address_from_an_unlisted_proxy_is_ignored(live: Live) -> None:
    limited = 0
    with httpx.Client(base_url=live.url) as c:
        for i in range(16):  # rotating the header gets the attacker nowhere
            r = login(c, "wrong password!", **{"x-forwarded-for": f"198.51.100.{i}"})
            limited += "too many failed logins" in c.get(r.headers["location"]).text
    assert limited == 11  # after five failures from 127.0.0.1, the address must wait


def test_a_forwarded_address_from_a_listed_proxy_counts(starter_dir: Path,
                                                        tmp_path: Path) -> None:
    settings = starter_dir / "baton.yaml"
    settings.write_text(settings.read_text() + "web:\n  trusted_proxies: [127.0.0.1]\n")
    with (live_server(load_config(starter_dir), tmp_path / "proxy.db") as live,
          httpx.Client(base_url=live.url) as c):
        for _ in range(6):  # the attacker, behind the proxy at one address
            login(c, "wrong password!", **{"x-forwarded-for": "198.51.100.7"})
        # ana, behind the same proxy from her own address, is not locked out
        r = login(c, PASSWORD, **{"x-forwarded-for": "203.0.113.5"})
        assert r.status_code == 303 and r.headers["location"] == "/", r.headers
        c.cookies.clear()  # signed out again, as the attacker
        limited = login(c, "wrong password!", **{"x-forwarded-for": "198.51.100.7"})
        assert "too many failed logins" in c.get(limited.headers["location"]).text


def test_a_token_stops_working_when_its_person_changes_password(live: Live) -> None:
    with live.client("admin") as c:
        assert c.get("/api/me").status_code == 200
    db = str(live.host.store.url).removeprefix("sqlite:///")
    result = CliRunner().invoke(app, ["user", "password", "ana", "--db", db,
                                      "--password-stdin"], input="a brand new password\n")
    assert result.exit_code == 0, result.output
    assert "1 API token revoked" in result.stdout
    with live.client("admin") as c:
        assert c.get("/api/me").status_code == 401
    with live.client("viewer") as c:  # vic's token is untouched
        assert c.get("/api/me").status_code == 200


def test_an_admin_unlocks_a_person_from_the_command_line(live: Live) -> None:
    for _ in range(5):
        assert live.auth.login("ana", "wrong password!", ip="10.0.0.9") is None
    db = str(live.host.store.url).removeprefix("sqlite:///")
    result = CliRunner().invoke(app, ["user", "unlock", "ana", "--db", db])
    assert result.exit_code == 0, result.output
    assert "ana may sign in again (1 address had to wait)" in result.stdout
    assert live.auth.login("ana", PASSWORD, ip="10.0.0.9") is not None


def test_baton_approve_and_reject_require_by_and_check_eligibility(live: Live) -> None:
    esc = open_escalation(live, "operator")
    db = str(live.host.store.url).removeprefix("sqlite:///")
    runner = CliRunner()
    for verb in ("approve", "reject"):
        result = runner.invoke(app, [verb, esc, "--db", db])
        assert result.exit_code == 2 and "--by" in result.output
    result = runner.invoke(app, ["approve", esc, "--db", db, "--by", "ola"])
    assert result.exit_code == 2
    assert "ola may not answer" in " ".join(result.stderr.split())
    result = runner.invoke(app, ["approve", esc, "--db", db, "--by", "nobody"])
    assert result.exit_code == 2 and "'nobody' is not a person" in result.stderr
    assert live.host.store.escalation(esc).status == "open"  # type: ignore[union-attr]
