"""`baton bench coordination`: cost per event against organisation size, and its curve."""

from __future__ import annotations

import io
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from baton.bench_coordination import (
    bench_events,
    bench_org,
    measure_size,
    print_coordination,
    run_coordination_bench,
    slopes,
)
from baton.config import load_config
from baton.model.events import EVENT_TYPES, check_type
from baton.scenarios import scenario_path
from baton.sim.coordination_curve import (
    ENGINE,
    HIERARCHY,
    coordination_curve_html,
    coordination_section,
)

KEYS = {"teams", "services", "people", "events", "decisions", "cpu_ms_per_event",
        "messages_per_event", "peak_memory_mib"}


@pytest.fixture(scope="module")
def tiny() -> dict[str, Any]:
    """Two sizes, each in its own spawned process, over two virtual hours."""
    return run_coordination_bench([2, 4], seed=3, hours=2.0)


def test_tiny_run_measures_every_size(tiny: dict[str, Any]) -> None:
    points = tiny["points"]
    assert isinstance(points, list)
    assert [p["teams"] for p in points] == [2, 4]
    for p in points:
        assert set(p) >= KEYS
        assert p["events"] > 0 and p["decisions"] > 0
        assert p["cpu_ms_per_event"] > 0
        assert p["messages_per_event"] >= 0
        assert 20 < p["peak_memory_mib"] < 4096
    slope = tiny["slope"]
    assert isinstance(slope, dict)
    assert set(slope) == {"cpu_ms_per_event", "messages_per_event"}
    assert tiny["slope_max"] == max(slope.values())
    total = tiny["slope_total"]
    assert set(total) == set(slope) and tiny["slope_total_max"] == max(total.values())
    # total cost = cost per event x events, so its slope is the per-event one plus that of
    # the event count
    events = slopes([{"teams": p["teams"], "cpu_ms_per_event": p["events"],
                      "messages_per_event": p["events"]} for p in points])
    for key in slope:
        assert total[key] == pytest.approx(slope[key] + events[key], abs=2e-4)  # each rounded
    assert tiny["goal"] == 1.05
    assert tiny["met"] is (tiny["slope_total_max"] <= 1.05)
    out = io.StringIO()
    print_coordination(tiny, Console(file=out, width=200))
    text = out.getvalue()
    assert "slope of cost per event" in text and "slope of the run's total cost" in text
    assert "CPU s total" in text and "msgs total" in text


def test_slope_is_the_log_log_least_squares_slope() -> None:
    points = [{"teams": n, "cpu_ms_per_event": 0.5 * n ** 0.7,
               "messages_per_event": 3.0 * n ** 1.2} for n in (10, 100, 1000)]
    got = slopes(points)
    assert got["cpu_ms_per_event"] == pytest.approx(0.7, abs=1e-4)
    assert got["messages_per_event"] == pytest.approx(1.2, abs=1e-4)
    flat = slopes([{"teams": n, "cpu_ms_per_event": 2.0, "messages_per_event": 0.1}
                   for n in (3, 30, 300)])
    assert flat == {"cpu_ms_per_event": 0.0, "messages_per_event": 0.0}
    # Least squares over noisy points: the slope of the fitted line, not of the ends.
    noisy = [{"teams": 1, "cpu_ms_per_event": 1.0, "messages_per_event": 1.0},
             {"teams": math.e, "cpu_ms_per_event": math.e ** 2, "messages_per_event": 1.0},
             {"teams": math.e ** 2, "cpu_ms_per_event": math.e ** 2, "messages_per_event": 1.0}]
    assert slopes(noisy)["cpu_ms_per_event"] == pytest.approx(1.0, abs=1e-4)


def test_organisation_scales_with_teams(tmp_path: Path) -> None:
    small, large = bench_org(15), bench_org(60)
    for n, config in ((15, small), (60, large)):
        org = config.org
        assert len(org.teams) == n
        assert 8 <= len(org.services) / n <= 13
        assert 5 <= len(org.people) / n <= 8
        assert len({p.timezone for p in org.people}) == 3
        assert len(org.rotations) == n
        assert {d.id for d in org.domains} == {"reliability", "cost", "security", "support"}
        cross = sum(1 for s in org.services for d in s.dependencies
                    if org.service[d].team != s.team)
        assert cross > len(org.services) // 2  # dependencies cross team lines
    assert len(large.org.services) > 3 * len(small.org.services)
    # The generated organisation passes load_config's checks with the itops settings.
    root = tmp_path / "cfg"
    shutil.copytree(scenario_path("itops"), root, ignore=shutil.ignore_patterns("*.py",
                                                                                "__pycache__"))
    (root / "org.yaml").write_text(yaml.safe_dump(small.org.model_dump(mode="json"),
                                                  sort_keys=False), encoding="utf-8")
    loaded = load_config(root)
    assert len(loaded.org.services) == len(small.org.services)


def test_every_team_gets_the_same_valid_event_mix() -> None:
    config = bench_org(15)
    events = bench_events(config, seed=2, hours=3.0)
    for i, e in enumerate(events):
        check_type(e, EVENT_TYPES, f"event {i}")
    assert events == sorted(events, key=lambda e: (e.time, e.key))
    assert len({e.key for e in events}) == len(events)
    per_team: dict[str, dict[str, int]] = {}
    owner = {s.id: s.team for s in config.org.services}
    for e in events:
        team = owner.get(e.entity) or str(e.attrs.get("team"))
        if e.type in ("service.down", "deploy", "ticket.opened"):
            mix = per_team.setdefault(team, {})
            mix[e.type] = mix.get(e.type, 0) + 1
    assert len(per_team) == 15
    assert all(m == {"service.down": 1, "deploy": 2, "ticket.opened": 2}
               for m in per_team.values())
    assert bench_events(config, seed=2, hours=3.0) == events


def test_same_seed_same_decisions_and_messages() -> None:
    first = measure_size(3, seed=5, hours=2.0)
    again = measure_size(3, seed=5, hours=2.0)
    for key in ("events", "decisions", "messages", "situations", "ledger_head"):
        assert first[key] == again[key]
    assert first["correlated"] > 0  # the outages' dependents were correlated to the root


def test_curve_html_has_both_series(tiny: dict[str, Any]) -> None:
    hierarchy = [{"teams": 2, "messages_per_event": 2.1},
                 {"teams": 4, "messages_per_event": 2.6},
                 {"teams": 30, "messages_per_event": 3.9}]
    html = coordination_curve_html(tiny, hierarchy)
    assert html.startswith("<svg") and "</svg>" in html
    assert ENGINE in html and HIERARCHY in html
    assert html.count("<polyline") == 2
    assert "<table>" in html and "2.6000" in html
    section = coordination_section(tiny, hierarchy)
    assert section.html == html and "hierarchy" in section.title


def test_the_cli_refuses_bad_sizes_and_unknown_benchmarks_naming_them() -> None:
    from typer.testing import CliRunner

    from baton.cli import app

    bad = CliRunner().invoke(app, ["bench", "coordination", "--teams", "10,x"])
    assert bad.exit_code == 2 and "'10,x'" in bad.stdout + bad.stderr
    unknown = CliRunner().invoke(app, ["bench", "nope"])
    assert unknown.exit_code == 2 and "nope" in unknown.stdout + unknown.stderr
