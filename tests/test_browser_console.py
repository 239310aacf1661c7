"""The console in Debian's Chromium: every page as every role, the incident view updating
live, and the stale indicator when the server goes away. Screenshots: artifacts/browser/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from baton.config import Config
from integration_support import ARTIFACTS, cloudevent, open_escalation, require_program
from web_support import PASSWORD, PEOPLE, Live, live_server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SHOTS = ARTIFACTS / "browser"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update"]
expect.set_options(timeout=10_000)
#: the pages of the console; {decision} and {incident} are filled in from the live server
PAGES = ["/", "/feed", "/incidents", "/incidents/{incident}", "/inbox", "/decisions/{decision}",
         "/organisation", "/policies", "/audit", "/report", "/kill-switch", "/no-such-page",
         "/decisions/D-unknown"]


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    require_program("chromium")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=require_program("chromium"),
                                         headless=True, args=ARGS)
    yield browser
    browser.close()


@pytest.fixture
def live(starter: Config, tmp_path: Path) -> Iterator[Live]:
    with live_server(starter, tmp_path / "console.db") as server:
        yield server


def _page(chromium: Browser, live: Live, access: str, then: str = "/") -> Page:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live.url}/login?next={then}")
    page.fill("input[name=person]", PEOPLE[access])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}{then}")
    return page


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "overview"


def test_every_page_as_every_role_is_a_page_with_navigation(chromium: Browser,
                                                            live: Live) -> None:
    open_escalation(live)  # api down: an incident, an escalation, a decision
    with live.client("operator") as c:
        assert c.post("/api/events", json=cloudevent("d1", "service.down", "db")).status_code == 202
    with live.client("viewer") as c:
        decision = c.get("/api/decisions").json()["items"][0]["id"]
    incident = live.host.engine.coordinator.open
    assert incident
    fill = {"decision": decision, "incident": sorted(incident)[0]}
    for access in ("viewer", "operator", "approver", "admin"):
        page = _page(chromium, live, access)
        for template in PAGES:
            path = template.format(**fill)
            response = page.goto(f"{live.url}{path}")
            assert response is not None
            kind = response.headers.get("content-type", "")
            assert kind.startswith("text/html"), f"{access} {path}: {kind}"
            if path != "/report":  # the value report is a page of its own
                expect(page.locator("header.top nav a[href='/incidents']")).to_be_visible()
                expect(page.locator("header .who")).to_contain_text(PEOPLE[access])
                assert not page.locator("body").inner_text().lstrip().startswith("{")
            if (path == "/kill-switch" and access != "admin") or "unknown" in path \
                    or "no-such" in path:
                expect(page.locator("section.error-page")).to_be_visible()
                assert "/tmp/" not in page.content() and str(live.host.config.root) \
                    not in page.content()
            _shot(page, f"role-{access}-{_slug(template)}")
        page.context.close()


def test_the_incident_page_updates_live_when_its_plan_moves(chromium: Browser,
                                                             live: Live) -> None:
    esc = open_escalation(live)
    (incident,) = live.host.engine.coordinator.open
    page = _page(chromium, live, "viewer", then=f"/incidents/{incident}")
    expect(page.locator("#live-state")).to_have_text("live")
    timeline = page.locator(".timeline tbody")
    expect(timeline).not_to_contain_text("answer")
    page.evaluate("window.__marker = 'same page'")
    _shot(page, "incident-live-1-before")
    with live.client("admin") as c:
        r = c.post(f"/api/escalations/{esc['id']}/approve", json={"comment": "restart it"})
        assert r.status_code == 200, r.text
    expect(timeline).to_contain_text("approved; executed")
    expect(timeline.locator("tr.answer")).to_have_count(1)
    assert page.evaluate("window.__marker") == "same page", "the page was reloaded"
    _shot(page, "incident-live-2-after")


def test_the_header_says_stale_when_the_server_stops(starter: Config, chromium: Browser,
                                                      tmp_path: Path) -> None:
    with live_server(starter, tmp_path / "stale.db") as live:
        page = _page(chromium, live, "viewer")
        state = page.locator("#live-state")
        expect(state).to_have_text("live")
        expect(page.locator("#clock")).to_have_text(re.compile(r"^\w{3} \d\d:\d\d$"))
        _shot(page, "stale-1-live")
    # the server is gone: within a few seconds the header says so
    expect(state).to_have_attribute("data-state", "stale", timeout=15_000)
    expect(page.locator("#stale-banner")).to_be_visible()
    expect(page.locator("#stale-banner")).to_contain_text("No contact with the server since")
    _shot(page, "stale-2-stopped")
    page.context.close()


def test_the_overview_charts_have_axes_a_matching_legend_and_the_latency_tail(
        chromium: Browser, live: Live) -> None:
    open_escalation(live)
    with live.client("operator") as c:
        assert c.post("/api/events", json=cloudevent("d1", "service.down", "db")).status_code == 202
    slowest = max(r[4] for r in live.host.store.decision_index())
    page = _page(chromium, live, "viewer")
    hours, latency = page.locator("#chart-hours"), page.locator("#chart-latency")
    expect(hours.locator("canvas")).to_have_count(1)
    expect(hours.locator(".u-legend")).to_contain_text("needs approval")
    # the legend holds the series with decisions, each with a value (its 24 h total away
    # from the bars), and none that would end in an empty "denied:"
    data = json.loads(hours.get_attribute("data-chart") or "{}")
    names = {"autonomous": "autonomous", "approval": "needs approval", "denied": "denied",
             "none": "no verdict"}
    totals = {names[k]: str(sum(v)) for k, v in data["series"].items() if sum(v)}
    assert "denied" not in totals  # nothing was denied: no empty row for it
    rows = page.evaluate("""() => [...document.querySelectorAll(
        '#chart-hours .u-legend .u-series')].map(r => [
        r.querySelector('.u-label').textContent, r.querySelector('.u-value').textContent])""")
    assert rows[0] == ["hour (UTC)", "last 24 h"]
    assert dict(rows[1:]) == totals, rows
    legend = latency.locator(".u-legend")
    expect(legend).not_to_contain_text("decisions:")  # uPlot draws no colon; guard anyway
    lat_rows = page.evaluate("""() => [...document.querySelectorAll(
        '#chart-latency .u-legend .u-series')].map(r => r.querySelector('.u-value').textContent)""")
    assert all(v.strip() for v in lat_rows), lat_rows
    labels = page.evaluate("document.getElementById('chart-hours')._plot.axes.map(a => a.label)")
    assert labels == ["hour (UTC)", "decisions per hour"]  # axes drawn with their labels
    expect(latency.locator("canvas")).to_have_count(1)
    expect(latency).to_contain_text("p99")
    # marks in one bucket share one line and one label ("p95 · p99"), never drawn twice
    chart = json.loads(latency.get_attribute("data-chart") or "{}")
    edges = [float(label[1:]) for label in chart["labels"]]
    bucket = {k: next((i for i, e in enumerate(edges) if v <= e), len(edges) - 1)
              for k, v in chart["marks"].items()}
    lines: dict[int, list[str]] = {}
    for name, i in bucket.items():
        lines.setdefault(i, []).append(name)
    assert latency.get_attribute("data-mark-lines") == " | ".join(
        " · ".join(names) for names in lines.values())
    note = latency.locator(".chart-note").inner_text()
    assert f"slowest {round(slowest, 2)} ms" in note, note
    colours = page.evaluate("""() => [...document.querySelectorAll(
        '#chart-hours .u-legend .u-marker')].map(m => getComputedStyle(m).backgroundColor)""")
    assert "rgb(214, 158, 46)" in colours and "rgb(56, 161, 105)" in colours  # pills' hues
    _shot(page, "charts-overview")


def test_a_viewer_can_read_times_in_their_own_zone(chromium: Browser, live: Live) -> None:
    open_escalation(live)
    context = chromium.new_context(viewport={"width": 1280, "height": 900},
                                   timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.goto(f"{live.url}/login?next=/feed")
    page.fill("input[name=person]", PEOPLE["viewer"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/feed")
    first = page.locator("#feed time").first
    expect(first).to_contain_text("UTC")
    page.click("#tz-toggle")
    expect(page.locator("#tz-toggle")).to_contain_text("Asia/Tokyo")
    expect(first).to_contain_text("GMT+9")
    page.reload()  # the choice is kept in this browser
    expect(page.locator("#feed time").first).to_contain_text("GMT+9")
    _shot(page, "times-local")
    context.close()


def test_a_held_ledger_shows_on_the_audit_page_and_an_admin_resumes_it(
        starter: Config, chromium: Browser, tmp_path: Path) -> None:
    from sqlalchemy import update

    from baton.store import schema as t
    from baton.store.sql import SqlStore
    from test_audit_watch import with_audit

    config = with_audit(starter, verify_minutes=0.005)
    with live_server(config, tmp_path / "held.db", wall_clock=True) as held:
        with held.client("operator") as c:
            assert c.post("/api/events", json=cloudevent("h1", "service.down", "db")
                          ).status_code == 202
        store = held.host.store
        assert isinstance(store, SqlStore)
        (decision,) = [d["id"] for d in store.decisions(limit=5)][:1]
        with store.engine.begin() as conn:
            conn.execute(update(t.decisions).where(t.decisions.c.id == decision)
                         .values(decided_by="mallory"))
        page = _page(chromium, held, "admin", then="/audit")
        for _ in range(60):  # the live check runs every 0.3 s
            if held.host.engine.held:
                break
            page.wait_for_timeout(250)
        page.reload()
        banner = page.locator("#held .banner.bad")
        expect(banner).to_contain_text(f"decisions {decision}: decided_by is 'mallory'")
        _shot(page, "audit-held")
        viewer = _page(chromium, held, "viewer", then="/audit")
        expect(viewer.locator("#held .banner.bad")).to_contain_text("decided_by is 'mallory'")
        expect(viewer.locator("#held form")).to_have_count(0)  # only an admin may resume
        viewer.context.close()
        page.fill("#held input[name=comment]", "checked the row against the ledger")
        page.click("#held button[type=submit]")
        expect(page.locator(".banner.ok").first).to_contain_text("processing resumes")
        expect(page.locator("#held")).to_have_count(0)
        _shot(page, "audit-held-resumed")
        page.context.close()
