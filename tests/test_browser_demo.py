"""The newcomer's path through `baton demo`, in Debian's Chromium: sign in with the printed
approver login and approve an escalation from the inbox while the world keeps running."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from integration_support import (
    ARTIFACTS,
    free_port,
    log_tail,
    require_program,
    running,
    wait_for,
    wait_ready,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

SHOTS = ARTIFACTS / "browser"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]
NEWCOMER_LIMIT = 180.0  # seconds: from the dashboard answering to the approval
#: what the inbox says after an approval: the action ran, or it failed and went on
ANSWERED = re.compile(r"approved; (executed|failed \(.*\); escalated)")


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _printed_login(log: Path, access: str) -> str:
    found = re.search(rf"^\s+{access}\s+(\S+)", log.read_text(encoding="utf-8"), re.M)
    return found.group(1) if found else ""


def test_a_newcomer_approves_an_escalation_with_the_printed_approver_login(
        tmp_path: Path) -> None:
    chromium = require_program("chromium")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "demo.log"
    baton = str(Path(sys.executable).parent / "baton")
    args = [baton, "demo", "--db", str(tmp_path / "demo.db"), "--port", str(port),
            "--speed", "1200", "--reports", str(tmp_path / "reports")]
    with running(args, log) as proc, sync_playwright() as pw:
        wait_ready(proc, f"{url}/login", log, timeout=60)
        started = time.monotonic()
        person = wait_for(lambda: _printed_login(log, "approver"), timeout=10,
                          what="the printed approver login")
        password = re.search(r"password (\S+):", log.read_text()).group(1)  # type: ignore[union-attr]
        line = re.search(rf"^\s+approver\s+{re.escape(person)}\s.*$", log.read_text(), re.M)
        assert line is not None and re.search(r"on[ -]call", line.group(0)), line
        context = pw.chromium.launch_persistent_context(
            tmp_path / "profile", executable_path=chromium, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(f"{url}/login?next=/inbox")
            page.fill("input[name=person]", person)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/inbox")
            approve = page.locator("article.escalation button[value=approve]")

            def paged() -> bool:
                if approve.count():
                    return True
                page.wait_for_timeout(1500)
                page.reload()
                return bool(approve.count())

            wait_for(paged, timeout=NEWCOMER_LIMIT, what=f"an escalation {person} may answer",
                     interval=0)
            expect(page.locator("#demo-status")).to_contain_text("slowed")
            card = page.locator("article.escalation",
                                has=page.locator("button[value=approve]")).first
            original = card.locator("a[href^='/decisions/']").first.get_attribute("href")
            card.locator("input[name=comment]").fill("approved by the newcomer")
            _shot(page, "newcomer-1-inbox")
            card.locator("button[value=approve]").click()
            page.wait_for_url(f"{url}/inbox")
            # the demo's world fails some actions on purpose (a seeded share, whichever
            # escalation the hour's on-call approver gets): either answer is a real outcome
            expect(page.locator("p.banner.ok")).to_contain_text(ANSWERED)
            assert time.monotonic() - started < NEWCOMER_LIMIT
            _shot(page, "newcomer-2-approved")

            now = page.locator("#current-outcome")

            def settled() -> bool:  # the action's result comes back as an event
                page.goto(f"{url}{original}")
                return bool(re.search(r"executed|failed", now.inner_text()))

            wait_for(settled, timeout=30, what="the approved action's result to show",
                     interval=1)
            expect(page.locator("#current-outcome")).to_contain_text(person)
            _shot(page, "newcomer-3-decision")
            for name, path in (("overview", "/"), ("incidents", "/incidents"),
                               ("organisation", "/organisation"), ("feed", "/feed")):
                page.goto(f"{url}{path}")
                expect(page.locator("header .who")).to_contain_text("(approver)")
                _shot(page, f"newcomer-4-{name}")
        finally:
            context.close()
        assert proc.poll() is None, log_tail(log)
