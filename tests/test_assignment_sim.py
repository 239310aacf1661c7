"""Greedy against optimal assignment on the itops work stream, in simulated time."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from baton.config import load_config
from baton.scenarios import scenario_path
from baton.sim.assignment import MEASURES, compare_assignment, print_comparison, work_stream

HOURS = 6.0  # 00:00-06:00 UTC on a Monday: Singapore at work, Berlin and New York asleep


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    return compare_assignment(HOURS, 7)


def test_both_policies_are_measured_on_the_same_work(result: dict[str, Any]) -> None:
    greedy, optimal = result["policies"]["greedy"], result["policies"]["optimal"]
    assert result["work"]["items"] > 5
    assert greedy["items"] == optimal["items"] == result["work"]["items"]
    for figures in (greedy, optimal):
        for measure in (*MEASURES, "urgent_wait_mean_minutes", "people_paged"):
            assert figures[measure] >= 0
        assert figures["wait_p90_minutes"] >= figures["wait_mean_minutes"] * 0.5
        assert figures["unfinished"] == 0  # the drain lets every item finish
    assert set(result["better"]) == set(MEASURES)


def test_the_optimiser_pages_less_without_breaching_more(result: dict[str, Any]) -> None:
    greedy, optimal = result["policies"]["greedy"], result["policies"]["optimal"]
    assert optimal["off_hours_pages"] < greedy["off_hours_pages"]
    assert optimal["sla_breaches"] <= greedy["sla_breaches"]
    assert optimal["max_pages_one_person"] <= greedy["max_pages_one_person"]
    assert optimal["off_hours_pages_for"]["not_urgent"] == 0  # pages only for urgent work
    assert greedy["off_hours_pages_for"]["not_urgent"] > 0
    for measure, who in result["better"].items():  # where greedy wins, the result says why
        assert (who == "greedy") == any(n.startswith(f"{measure}:") for n in result["notes"])


def test_same_seed_same_result(result: dict[str, Any]) -> None:
    assert compare_assignment(HOURS, 7) == result
    assert compare_assignment(HOURS, 8)["work"] != result["work"]


def test_the_work_stream_comes_from_the_itops_world() -> None:
    org = load_config(scenario_path("itops")).org
    items = work_stream(org, hours=HOURS, seed=7)
    assert items == sorted(items, key=lambda i: (i.created, i.id))
    assert {i.kind for i in items} <= {"ticket", "incident"}
    for i in items:
        assert i.team in org.team and i.due > i.created and i.minutes > 0
    p1 = [i for i in items if i.kind == "ticket" and (i.due - i.created).total_seconds() == 3600]
    assert all(i.urgent for i in p1)


def test_print_comparison(result: dict[str, Any]) -> None:
    console = Console(record=True, width=140)
    print_comparison(result, console)
    text = console.export_text()
    assert "off-hours pages" in text and "SLA breaches" in text
    assert str(result["policies"]["greedy"]["off_hours_pages"]) in text
