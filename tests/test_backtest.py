"""`baton policy backtest`: a policy set replayed on the recorded log, the live database
only read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backtest_support import EVENTS, RESTARTS_NEED_APPROVAL, dump_hash, live_db, policies_with
from baton.backtest import backtest
from baton.cli import app
from baton.config import Config
from baton.errors import PolicyError
from baton.store import open_store
from conftest import T0
from helpers import ev
from ladder_support import RESTART


def test_a_hand_made_change_gives_exactly_its_flips(starter: Config, starter_dir: Path,
                                                    tmp_path: Path) -> None:
    db = live_db(starter, tmp_path / "live.db")
    candidate = policies_with(starter_dir, tmp_path, *RESTARTS_NEED_APPROVAL)
    store = open_store(db, create=False)
    report = backtest(store, starter, candidate)
    decided = [d for d in store.decisions(limit=100) if d["situation_kind"] == "service_down"
               and d["entity"] == "db"]
    store.close()
    assert [(f["decision"], f["class"], f["from"], f["to"], f["policies_from"],
             f["policies_to"]) for f in report["flips"]] == [
        (decided[0]["id"], RESTART, "autonomous", "approval", ["restart-below-tier0"],
         ["restart-below-tier0"])]
    assert report["decisions"] == 3  # db's restart, api's restart, worker's scale-out
    assert report["by_class"][RESTART] == {"autonomous->approval": 1, "decisions": 2,
                                           "flips": 1}
    assert report["effect"]["escalations_added"] == 1
    assert report["effect"]["escalations_removed"] == 0
    assert report["effect"]["person_minutes_delta"] == 5.0


def test_a_change_that_denies_spending_shows_in_the_spend(starter: Config, starter_dir: Path,
                                                          tmp_path: Path) -> None:
    db = live_db(starter, tmp_path / "live.db")
    candidate = policies_with(starter_dir, tmp_path, "when { context.amount <= context."
                              "budget_left };", "when { context.amount <= 0 };")
    store = open_store(db, create=False)
    report = backtest(store, starter, candidate)
    store.close()
    (flip,) = report["flips"]
    assert (flip["class"], flip["from"], flip["to"]) == ("reliability/saturation/scale_out",
                                                         "autonomous", "approval")
    assert (report["effect"]["spend_before"], report["effect"]["spend_after"]) == (50, 0)


def test_identical_policies_give_no_flips(starter: Config, starter_dir: Path,
                                          tmp_path: Path) -> None:
    db = live_db(starter, tmp_path / "live.db")
    store = open_store(db, create=False)
    report = backtest(store, starter, starter_dir / "policies")
    store.close()
    assert (report["flip_count"], report["flips"], report["only_before"],
            report["only_after"]) == (0, [], 0, 0)
    assert report["decisions"] == 3


def test_the_backtest_is_deterministic_and_leaves_the_live_database_unchanged(
        starter: Config, starter_dir: Path, tmp_path: Path) -> None:
    db = live_db(starter, tmp_path / "live.db")
    candidate = policies_with(starter_dir, tmp_path, *RESTARTS_NEED_APPROVAL)
    before = dump_hash(db)
    reports = []
    for n in range(2):
        code = CliRunner().invoke(app, ["policy", "backtest", str(candidate), "--db", str(db),
                                        "--json", str(tmp_path / f"r{n}.json")])
        assert code.exit_code == 0, code.output
        reports.append((tmp_path / f"r{n}.json").read_text())
    assert reports[0] == reports[1]
    report = json.loads(reports[0])
    assert {"decisions", "flips", "by_class", "effect"} <= set(report)
    assert dump_hash(db) == before


def test_the_window_keeps_only_the_last_days(starter: Config, starter_dir: Path,
                                             tmp_path: Path) -> None:
    events = [ev("old", "service.down", "db", T0, -3 * 24 * 60),
              ev("old-r", "service.recovered", "db", T0, -3 * 24 * 60 + 5), *EVENTS]
    db = live_db(starter, tmp_path / "live.db", events)
    candidate = policies_with(starter_dir, tmp_path, *RESTARTS_NEED_APPROVAL)
    store = open_store(db, create=False)
    every, recent = backtest(store, starter, candidate), backtest(store, starter, candidate,
                                                                   days=1)
    store.close()
    assert (every["flip_count"], recent["flip_count"]) == (2, 1)
    assert recent["events"] == len(EVENTS)


def test_an_invalid_policy_set_is_refused_with_file_and_line(starter: Config,
                                                             starter_dir: Path,
                                                             tmp_path: Path) -> None:
    db = live_db(starter, tmp_path / "live.db")
    candidate = policies_with(starter_dir, tmp_path, "when { context.tier > 0 };",
                              "whn { context.tier > 0 };")
    store = open_store(db, create=False)
    with pytest.raises(PolicyError) as bad:
        backtest(store, starter, candidate)
    store.close()
    assert "reliability.cedar:3" in str(bad.value)
    result = CliRunner().invoke(app, ["policy", "backtest", str(candidate), "--db", str(db)])
    assert result.exit_code == 2 and "reliability.cedar:3" in " ".join(result.output.split())
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args,problem", [
    (["--days", "0"], "--days must be more than 0"),
    (["--db", "missing.db"], "missing.db"),
])
def test_bad_arguments_are_named(starter: Config, starter_dir: Path, tmp_path: Path,
                                 args: list[str], problem: str) -> None:
    db = live_db(starter, tmp_path / "live.db")
    argv = ["policy", "backtest", str(starter_dir / "policies"), "--db", str(db), *args]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2 and problem in " ".join(result.output.split()), result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(app, ["policy", "backtest", str(empty), "--db", str(db)])
    assert result.exit_code == 2 and "no *.cedar files" in result.output
