"""The demo's batch summary: complete, deterministic, and all three verdicts occur."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baton.cli import app
from baton.sim.demo import run_demo

KEYS = {"events", "situations", "decisions", "verdicts", "actions_executed", "escalations",
        "incidents", "mttr_minutes", "sla_breaches", "spend", "ledger_head",
        "ledger_verified", "decision_latency_ms"}


@pytest.mark.slow
def test_a_24_hour_headless_run_writes_the_full_summary(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    result = CliRunner().invoke(app, ["demo", "--headless", "--hours", "24", "--seed", "7",
                                      "--db", str(tmp_path / "demo.db"), "--json", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())
    assert summary.keys() >= KEYS
    assert summary["events"] >= 10_000
    assert set(summary["verdicts"]) == {"autonomous", "approval", "denied"}
    assert all(count > 0 for count in summary["verdicts"].values()), summary["verdicts"]
    assert summary["ledger_verified"] is True
    assert summary["actions_executed"] > 0 and summary["incidents"] > 0
    assert {"p50", "p99"} <= summary["decision_latency_ms"].keys()
    assert summary["decision_latency_ms"]["p99"] >= summary["decision_latency_ms"]["p50"] > 0


def test_the_same_seed_gives_the_same_ledger_head(tmp_path: Path) -> None:
    first = run_demo(db=tmp_path / "a.db", hours=6, seed=7)
    second = run_demo(db=tmp_path / "b.db", hours=6, seed=7)
    other = run_demo(db=tmp_path / "c.db", hours=6, seed=8)
    assert first["ledger_head"] == second["ledger_head"]
    assert first["decisions"] == second["decisions"] > 0
    assert other["ledger_head"] != first["ledger_head"]


def test_a_demo_never_replaces_a_database_that_is_not_a_demo(tmp_path: Path) -> None:
    from baton.store import Step, open_store

    db = tmp_path / "prod.db"
    store = open_store(db)
    store.commit(Step(settings={"config": "/etc/baton"}))
    store.close()
    result = CliRunner().invoke(app, ["demo", "--headless", "--hours", "1", "--db", str(db)])
    assert result.exit_code == 2
    assert "not a demo database" in " ".join(result.output.split())
    assert open_store(db).setting("config") == "/etc/baton"
