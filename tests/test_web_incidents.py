"""The incidents view: open and recent incidents, one incident's plan and timeline, SLA risk."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from baton.config import Config
from integration_support import cloudevent, open_escalation
from web_support import Live, live_server


@pytest.fixture
def live(starter: Config, tmp_path: Path) -> Iterator[Live]:
    with live_server(starter, tmp_path / "incidents.db") as server:
        yield server


def _incident_link(page: str) -> str:
    found = re.search(r'href="(/incidents/[^"#]+)"', page)
    assert found, page
    return found.group(1)


def test_an_open_incident_is_listed_and_its_page_shows_root_and_timeline(live: Live) -> None:
    esc = open_escalation(live)  # api is down; its restart waits for a person
    with live.client("viewer") as c:
        listing = c.get("/incidents", headers={"accept": "text/html"})
        assert listing.status_code == 200
        assert "No incident is open." not in listing.text
        link = _incident_link(listing.text.split('id="sla"')[0])
        page = c.get(link)
    assert page.status_code == 200, page.text
    text = page.text
    assert "Incident on <code>api</code>" in text and ">open<" in text
    assert '<span class="svc root">api <small>tier 0' in text
    timeline = text.split("Timeline")[1]
    assert "service_down on api: escalated" in timeline
    assert "paged oncall" in timeline and f'href="/inbox#{esc["id"]}"' in timeline
    assert re.search(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d\d \w\w\w \d\d:\d\d(:\d\d)? UTC", timeline)


def test_the_timeline_shows_the_answer_and_its_result(live: Live) -> None:
    esc = open_escalation(live)
    with live.client("viewer") as c:
        link = _incident_link(c.get("/incidents").text)
    with live.client("admin") as c:
        r = c.post(f"/api/escalations/{esc['id']}/approve", json={"comment": "go"})
        assert r.status_code == 200, r.text
    with live.client("viewer") as c:
        timeline = c.get(link).text.split("Timeline")[1]
    assert "answer</span>" in timeline and "approved; executed" in timeline
    assert "escalation approved" in timeline


def test_a_joint_plan_shows_each_step_with_its_status(live: Live) -> None:
    with live.client("operator") as c:
        assert c.post("/api/events", json=cloudevent("d1", "service.down", "db")).status_code == 202
    with live.client("viewer") as c:
        link = _incident_link(c.get("/incidents").text)
        text = c.get(link).text
    assert "Incident on <code>db</code>" in text
    steps = text.split('id="plan-steps"')[1].split("</table>")[0]
    assert "restart" in steps and "<b>executed</b>" in steps


def test_overview_tiles_link_to_incidents_and_the_sla_list(live: Live) -> None:
    with live.client("operator") as c:
        assert c.post("/api/events", json=cloudevent("d1", "service.down", "db")).status_code == 202
    with live.client("viewer") as c:
        page = c.get("/").text
    assert 'href="/incidents"' in page and 'href="/incidents#sla"' in page
    assert 'href="/inbox"' in page


def test_an_unknown_incident_is_a_clear_404(live: Live) -> None:
    with live.client("viewer") as c:
        r = c.get("/incidents/S:nope", headers={"accept": "application/json"})
        assert r.status_code == 404
        assert "no open or recent incident 'S:nope'" in r.json()["error"]
        assert c.get("/fragments/incident/S:nope").status_code == 404


def test_a_closed_incident_is_listed_as_recent_with_its_page(live: Live) -> None:
    with live.client("operator") as c:
        assert c.post("/api/events", json=cloudevent("d1", "service.down", "db")).status_code == 202
        up = cloudevent("u1", "service.recovered", "db")
        assert c.post("/api/events", json=up).status_code == 202
    assert not live.host.engine.coordinator.open, "the recovery did not close the incident"
    with live.client("viewer") as c:
        listing = c.get("/incidents").text
        recent = listing.split('id="recent-incidents"')[1]
        link = _incident_link(recent)
        page = c.get(link)
    assert "None yet." not in recent and page.status_code == 200
    assert ">resolved<" in page.text


def test_a_finished_plan_is_shown_whole_from_its_records(live: Live) -> None:
    """A plan's later records hold only the steps that changed; the closed incident's page
    and the decision page of a later record put the whole plan back together."""
    with live.client("operator") as c:
        assert c.post("/api/events", json=cloudevent("d1", "service.down", "db")).status_code == 202
        up = cloudevent("u1", "service.recovered", "db")
        assert c.post("/api/events", json=up).status_code == 202
    assert not live.host.engine.actor.plans, "the plan is still in the engine"
    records = live.host.store.decisions(limit=200)
    (first,) = [d for d in records if d["outcome"] == "planned"]
    later = [d for d in records if d["outcome"] == "plan updated"]
    assert later and all(len(d["plan"]["steps"]) < len(first["plan"]["steps"]) for d in later)
    ids = sorted(s["step"] for s in first["plan"]["steps"])
    with live.client("viewer") as c:
        recent = c.get("/incidents").text.split('id="recent-incidents"')[1]
        shown = [c.get(_incident_link(recent)).text, c.get(f"/decisions/{later[-1]['id']}").text]
    for page in shown:
        table = page.split('id="plan-steps"')[1].split("</table>")[0]
        assert sorted(re.findall(r"<td><small>([^<]+/[^<]+)</small></td>", table)) == ids, table
