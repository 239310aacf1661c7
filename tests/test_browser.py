"""The dashboard in a real browser (Debian's Chromium through Playwright) on a live server.

Screenshots of every step go to artifacts/browser/. Only loopback traffic is allowed:
any other request from a page is aborted and fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, Route, expect, sync_playwright

from baton.config import Config
from integration_support import (
    ARTIFACTS,
    cloudevent,
    eligible_answerer,
    open_escalation,
    require_program,
)
from web_support import PASSWORD, PEOPLE, Live, live_server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

SHOTS = ARTIFACTS / "browser"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WAIT_MS = 10_000  # the longest any single browser step or expectation may take
expect.set_options(timeout=WAIT_MS)

Launch = Callable[[str], Page]


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    require_program("chromium")
    with sync_playwright() as p:
        yield p


@pytest.fixture
def live(starter: Config, tmp_path: Path) -> Iterator[Live]:
    with live_server(starter, tmp_path / "browser.db") as server:
        yield server


@pytest.fixture
def browser(playwright: Playwright, live: Live, tmp_path: Path) -> Iterator[Launch]:
    """Launch Chromium with a fresh profile per person; a page that reaches only loopback."""
    chromium = require_program("chromium")
    contexts: list[BrowserContext] = []
    outside: list[str] = []

    def refuse(route: Route) -> None:
        outside.append(route.request.url)
        route.abort()

    def launch(name: str) -> Page:
        context = playwright.chromium.launch_persistent_context(
            tmp_path / f"profile-{name}", executable_path=chromium, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        contexts.append(context)
        context.set_default_timeout(WAIT_MS)
        context.route(lambda url: not url.startswith(live.url), refuse)
        return context.pages[0] if context.pages else context.new_page()

    yield launch
    for context in contexts:
        context.close()
    assert outside == [], f"pages tried to reach beyond the test server: {outside}"


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under artifacts/browser/ and check it was written."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    path.unlink(missing_ok=True)
    page.screenshot(path=str(path), full_page=True)
    assert path.is_file() and path.stat().st_size > 1000, f"no screenshot at {path}"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


def sign_in(page: Page, live: Live, person: str, *, then: str, shot_name: str) -> None:
    """Sign in through the login form and land on `then`."""
    page.goto(f"{live.url}/login?next={then}")
    page.fill("input[name=person]", person)
    page.fill("input[name=password]", PASSWORD)
    shot(page, shot_name)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}{then}")
    expect(page.locator("header .who")).to_contain_text(person)


def test_an_approver_approves_in_the_inbox_and_the_feed_shows_it(browser: Launch,
                                                                   live: Live) -> None:
    esc = open_escalation(live)
    person = eligible_answerer(live, esc)
    page = browser(person)

    sign_in(page, live, person, then="/inbox", shot_name="approve-1-login")
    card = page.locator(f"article#{esc['id']}")
    expect(card).to_contain_text("restart")
    expect(card).to_contain_text(person)
    card.locator("input[name=comment]").fill("restart api from the browser")
    shot(page, "approve-2-inbox")
    card.locator("button[name=decision][value=approve]").click()

    page.wait_for_url(f"{live.url}/inbox")
    banner = page.locator("p.banner.ok[role=status]")
    expect(banner).to_contain_text(f"{esc['id']}: approved; executed")
    found = re.search(r"\((D-[0-9a-f]+)\)", banner.inner_text())
    assert found, banner.inner_text()
    decision = found.group(1)
    expect(page.locator(f"article#{esc['id']}")).to_have_count(0)
    shot(page, "approve-3-flash")

    page.goto(f"{live.url}/feed")
    row = page.locator("#feed tbody tr", has=page.locator(f"a[href='/decisions/{decision}']"))
    expect(row.locator("td.outcome")).to_have_text(re.compile(r"^\s*approved"))
    expect(row).to_contain_text("api")
    shot(page, "approve-4-feed")

    with live.client("viewer") as c:
        after = c.get(f"/api/escalations/{esc['id']}").json()
        record = c.get(f"/api/decisions/{decision}").json()
    assert after["status"] == "approved" and after["resolved_by"] == person
    assert record["decided_by"] == person and record["rationale"] == "restart api from the browser"
    assert [(r.action.kind, r.action.resource) for r in live.world.requests] == [("restart", "api")]


def test_a_viewer_sees_no_answer_buttons_and_cannot_approve(browser: Launch,
                                                             live: Live) -> None:
    esc = open_escalation(live)  # still open: the viewer sees it, but may not answer it
    head = live.host.store.ledger_head()
    page = browser("vic")

    sign_in(page, live, PEOPLE["viewer"], then="/inbox", shot_name="viewer-1-login")
    card = page.locator(f"article#{esc['id']}")
    expect(card).to_contain_text("You cannot answer this one")
    expect(card.locator("button")).to_have_count(0)
    expect(page.locator(f"form[action='/inbox/{esc['id']}']")).to_have_count(0)
    shot(page, "viewer-2-inbox")

    # the form's endpoint refuses the viewer's session as well, before any CSRF check
    forged = page.request.post(f"{live.url}/inbox/{esc['id']}",
                               form={"decision": "approve", "comment": "sneaky"},
                               max_redirects=0)
    assert forged.status == 403, forged.text()
    with live.client("viewer") as c:
        r = c.post(f"/api/escalations/{esc['id']}/approve", json={"comment": "sneaky"})
        assert r.status_code == 403 and "viewer" in r.json()["error"]
        assert c.get(f"/api/escalations/{esc['id']}").json()["status"] == "open"
    assert live.host.store.ledger_head() == head and live.world.requests == []


#: notes, in the page, which live fragments the dashboard's script has replaced
WATCH_FRAGMENTS = """
window.__swapped = new Set();
document.addEventListener("DOMContentLoaded", () => {
  for (const el of document.querySelectorAll("[data-fragment]")) {
    new MutationObserver(() => window.__swapped.add(el.dataset.fragment))
      .observe(el, {childList: true});
  }
});
"""
ALL_SWAPPED = """() => {
  const parts = [...document.querySelectorAll("[data-fragment]")];
  return parts.length > 0 && parts.every(el => window.__swapped.has(el.dataset.fragment));
}"""
#: a slow network: every fragment arrives a second after the server answered
SLOW_FRAGMENTS = """
const realFetch = window.fetch;
window.fetch = async (...args) => {
  const response = await realFetch(...args);
  if (String(args[0]).startsWith("/fragments/")) await new Promise(r => setTimeout(r, 1000));
  return response;
};
"""


def open_overview_subscribed(page: Page, live: Live) -> None:
    """Open the overview and wait until the stream's first update has refreshed every
    fragment: the page is then subscribed to /stream and its refresh has finished."""
    page.add_init_script(WATCH_FRAGMENTS)
    page.goto(f"{live.url}/")
    page.wait_for_function(ALL_SWAPPED)
    page.evaluate("window.__swapped.clear()")


def test_the_overview_feed_updates_live_without_a_reload(browser: Launch, live: Live) -> None:
    page = browser("vic")
    sign_in(page, live, PEOPLE["viewer"], then="/inbox", shot_name="live-1-login")
    open_overview_subscribed(page, live)
    expect(page.locator("#feed")).to_contain_text("No decisions yet.")
    expect(page.locator("#stats")).not_to_contain_text("0.0%")  # no figures before data
    page.evaluate("window.__batonMarker = 'same page'")
    shot(page, "live-2-before")

    with live.client("operator") as c:
        r = c.post("/api/events", json=cloudevent("down-db", "service.down", "db"))
        assert r.status_code == 202, r.text
    with live.client("viewer") as c:
        # the restart (the joint plan and the responder's assignment are records too)
        (newest,) = [d for d in c.get("/api/decisions").json()["items"]
                     if d["situation_kind"] == "service_down"]

    row = page.locator("#feed tbody tr", has=page.locator(f"a[href='/decisions/{newest['id']}']"))
    expect(row).to_have_count(1)  # arrives through server-sent events, within WAIT_MS
    expect(row).to_have_class(re.compile(r"\bnew\b"))
    expect(row.locator("td.outcome")).to_have_text("executed")
    expect(page.locator("#stats")).to_contain_text("100.0%")  # autonomous in the last 24 h
    assert page.evaluate("window.__batonMarker") == "same page", "the page was reloaded"
    shot(page, "live-3-after")


def test_an_update_during_a_slow_refresh_is_not_lost(browser: Launch, live: Live) -> None:
    page = browser("vic")
    sign_in(page, live, PEOPLE["viewer"], then="/inbox", shot_name="slow-1-login")
    page.add_init_script(SLOW_FRAGMENTS)
    # the first refresh reads the stats, then holds them a second before the feed:
    # the decision made in that second must still reach the stats
    with page.expect_response(lambda r: r.url.endswith("/fragments/stats")):
        page.goto(f"{live.url}/")
    with live.client("operator") as c:
        r = c.post("/api/events", json=cloudevent("down-db", "service.down", "db"))
        assert r.status_code == 202, r.text
    try:
        expect(page.locator("#feed .outcome", has_text="executed")).to_have_count(1)
        expect(page.locator("#stats")).to_contain_text("100.0%", timeout=4_000)
    finally:
        shot(page, "slow-2-after")
