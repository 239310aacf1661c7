"""The decision feed: filters, search, paging, styles by outcome, and dated times."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from baton.config import Config
from baton.web.feed import PAGE, query_from, row_class
from integration_support import cloudevent, open_escalation
from web_support import Live, live_server


@pytest.fixture
def live(starter: Config, tmp_path: Path) -> Iterator[Live]:
    with live_server(starter, tmp_path / "feed.db") as server:
        yield server


def _rows(live: Live, **params: str) -> list[str]:
    with live.client("viewer") as c:
        r = c.get("/feed", params=params)
    assert r.status_code == 200, r.text
    body = r.text.split('id="feed"')[1].split("</table>")[0]
    return re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", body, re.S)


def test_filters_and_search_narrow_the_feed(live: Live) -> None:
    open_escalation(live)  # api: escalated
    with live.client("operator") as c:
        assert c.post("/api/events", json=cloudevent("d1", "service.down", "db")).status_code == 202
    everything = _rows(live)
    assert len(everything) >= 3
    escalated = _rows(live, outcome="escalated")
    assert escalated and all("escalated" in r for r in escalated)
    assert len(escalated) < len(everything)
    on_db = _rows(live, entity="db")
    assert on_db and all("<td>db</td>" in r for r in on_db)
    assert all("approval" in r for r in _rows(live, verdict="approval"))
    assert _rows(live, domain="reliability") and not _rows(live, domain="cost")
    assert _rows(live, q="API") and not _rows(live, q="no such words anywhere")


def test_unknown_filter_words_are_dropped_not_errors(live: Live) -> None:
    query = query_from({"verdict": "autonomus", "outcome": "<script>", "page": "-3"})
    assert query.verdict == "" and query.outcome == "" and query.page == 1
    with live.client("viewer") as c:
        assert c.get("/feed", params={"page": "x", "verdict": "nope"}).status_code == 200


def test_the_feed_pages_newest_first(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    assert PAGE == 50
    monkeypatch.setattr("baton.web.feed.PAGE", 2)
    open_escalation(live)
    with live.client("operator") as c:
        assert c.post("/api/events", json=cloudevent("d1", "service.down", "db")).status_code == 202
    first, second = _rows(live), _rows(live, page="2")
    assert len(first) == 2 and second and not set(first) & set(second)
    with live.client("viewer") as c:
        page = c.get("/feed").text
        later = c.get("/feed", params={"page": "2", "domain": "reliability"}).text
    assert 'href="/feed?page=2"' in page and 'rel="prev"' not in page
    assert 'href="/feed?domain=reliability"' in later  # the filter is kept across pages


def test_times_carry_the_day_and_zone_and_rows_are_styled_by_outcome(live: Live) -> None:
    open_escalation(live)
    rows = _rows(live)
    assert all(re.search(r"\w{3} \d\d \w{3} \d\d:\d\d UTC", r) for r in rows)
    assert row_class({"outcome": "failed: timeout"}) == "failed"
    assert row_class({"outcome": "rejected; fallback"}) == "rejected"
    assert row_class({"outcome": "compensated"}) == "compensated"
    assert row_class({"outcome": "executed"}) == ""


def test_an_escalated_row_says_what_became_of_it(live: Live) -> None:
    esc = open_escalation(live)
    with live.client("admin") as c:
        assert c.post(f"/api/escalations/{esc['id']}/approve", json={}).status_code == 200
    (row,) = [r for r in _rows(live) if esc["decision"] in r]
    assert "escalated" in row and "→ approved by ana" in row
