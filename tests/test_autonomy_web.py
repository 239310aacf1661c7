"""The autonomy ladder and policy proposals over a real HTTP server: pages and API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backtest_support import RESTARTS_NEED_APPROVAL, policies_with
from baton.config import Config
from baton.policy_changes import propose
from ladder_support import RESTART
from web_support import Live, live_server


@pytest.fixture
def live(starter: Config, tmp_path: Path) -> Iterator[Live]:
    with live_server(starter, tmp_path / "web.db") as server:
        yield server


def outage(c: Any, key: str) -> None:
    at = (datetime.now(UTC) - timedelta(seconds=5)).isoformat().replace("+00:00", "Z")
    r = c.post("/api/events", json={"specversion": "1.0", "id": key, "source": "t",
                                    "type": "service.down", "subject": "db", "time": at})
    assert r.status_code == 202, r.text


def test_the_page_and_api_show_each_class_with_its_track_record(live: Live) -> None:
    with live.client("operator") as c:
        outage(c, "1")
    with live.client("viewer") as c:
        status = c.get("/api/autonomy").json()
        (cls,) = [x for x in status["classes"] if x["class"] == RESTART]
        assert (cls["level"], cls["decisions"]) == ("autonomous", 1)
        page = c.get("/autonomy")
        assert page.status_code == 200 and RESTART in page.text
        assert "Set</button>" not in page.text  # a viewer sees no forms
        assert c.post("/api/autonomy", json={"class": RESTART, "level": "approve"}
                      ).status_code == 403


def test_widening_over_the_api_needs_a_second_person_who_is_an_admin(live: Live) -> None:
    with live.client("approver") as c:
        r = c.post("/api/autonomy", json={"class": RESTART, "level": "approve",
                                          "reason": "drill"})
        assert r.status_code == 200 and r.json()["outcome"] == "autonomy narrowed", r.text
        r = c.post("/api/autonomy", json={"class": RESTART, "level": "autonomous"})
        assert r.json()["outcome"] == "autonomy widening proposed"
        r = c.post("/api/autonomy", json={"class": RESTART, "approve": True})
        assert r.status_code == 403 and "not an admin" in r.json()["error"], r.text
    with live.client("admin") as c:
        page = c.get("/autonomy").text
        assert "Approve</button>" in page and "proposed by raj" in page
        r = c.post("/api/autonomy", json={"class": RESTART, "approve": True})
        assert r.status_code == 200 and r.json()["outcome"] == "autonomy widened", r.text
        r = c.post("/api/autonomy", json={"class": RESTART, "level": "sideways"})
        assert r.status_code == 422 and "unknown level 'sideways'" in r.json()["error"]
        r = c.post("/api/autonomy", json={"class": RESTART, "level": "approve",
                                          "extra": 1})
        assert r.status_code == 422
    assert live.host.engine.ladder.level_of(RESTART) == "autonomous"


def test_the_proposals_page_lists_each_proposal_with_its_flips(
        live: Live, starter_dir: Path, tmp_path: Path) -> None:
    with live.client("operator") as c:
        outage(c, "1")
    candidate = policies_with(starter_dir, tmp_path, *RESTARTS_NEED_APPROVAL)
    with live.host.lock:
        engine = live.host.engine
        done = propose(engine, candidate, by="raj")
    assert done["backtest"]["flip_count"] == 1
    with live.client("viewer") as c:
        page = c.get("/policy-proposals").text
        assert done["id"] in page and "restart-below-tier0" in page and "approval" in page
        (p,) = c.get("/api/policy-proposals").json()["proposals"]
        assert p["status"] == "proposed" and p["backtest"]["flips"][0]["class"] == RESTART
