"""`baton autonomy`: status as a table and JSON, changes refused up front with a reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from baton.app import open_engine
from baton.cli import app
from ladder_support import RESTART, autonomy_decisions


def baton_cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, " ".join(result.output.split())


def _db_with_an_outage(tmp_path: Path, starter_dir: Path) -> Path:
    db = tmp_path / "cli.db"
    at = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    open_engine(str(db), starter_dir).store.close()
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps({"key": "down-1", "type": "service.down", "entity": "db",
                                  "time": at}) + "\n")
    code, text = baton_cli("ingest", events, "--db", db)
    assert code == 0, text
    return db


def test_status_lists_each_class_with_its_track_record_and_writes_json(
        tmp_path: Path, starter_dir: Path) -> None:
    db = _db_with_an_outage(tmp_path, starter_dir)
    code, text = baton_cli("autonomy", "status", "--db", db, "--json", tmp_path / "s.json")
    assert code == 0, text
    assert RESTART in text
    report = json.loads((tmp_path / "s.json").read_text())
    (cls,) = [c for c in report["classes"] if c["class"] == RESTART]
    assert (cls["level"], cls["decisions"], cls["modes"]) == ("autonomous", 1,
                                                              {"autonomous": 1})
    assert cls["success_interval"] == [0.0, 1.0]  # no outcome yet: nothing is known
    # one restart carried out on its own: one approval's effort (5 minutes) saved
    assert report["value"]["person_minutes_saved"] == cls["person_minutes_saved"] == 5.0
    assert "autonomy bought: 1 decisions on their own" in text


def test_widening_needs_a_second_person_who_is_an_admin(tmp_path: Path,
                                                        starter_dir: Path) -> None:
    db = _db_with_an_outage(tmp_path, starter_dir)
    code, text = baton_cli("autonomy", "set", RESTART, "approve", "--by", "sue", "--db", db,
                           "--reason", "one bad night")
    assert code == 0 and "autonomy narrowed" in text, text
    code, text = baton_cli("autonomy", "set", RESTART, "autonomous", "--by", "ana",
                           "--db", db)
    assert code == 0 and "autonomy widening proposed" in text, text
    code, text = baton_cli("autonomy", "approve", RESTART, "--by", "ana", "--db", db)
    assert code == 2 and "ana proposed this widening" in text, text
    code, text = baton_cli("autonomy", "approve", RESTART, "--by", "raj", "--db", db)
    assert code == 2 and "raj is not an admin" in text, text
    engine = open_engine(str(db))
    assert engine.ladder.level_of(RESTART) == "approve"
    # refused up front: nothing was written for either refusal
    assert [r["outcome"] for r in autonomy_decisions(engine.store)] == [
        "autonomy narrowed", "autonomy widening proposed"]


def test_bad_arguments_are_named_and_change_nothing(tmp_path: Path, starter_dir: Path) -> None:
    db = _db_with_an_outage(tmp_path, starter_dir)
    for args, problem in [((RESTART, "wide"), "unknown level 'wide'"),
                          (("reliability", "approve"), "must have the form"),
                          ((RESTART, "approve", "--by", "nobody"), "'nobody' is not a person")]:
        by = () if "--by" in args else ("--by", "ana")
        code, text = baton_cli("autonomy", "set", *args, *by, "--db", db)
        assert code == 2 and problem in text, text
    code, text = baton_cli("autonomy", "approve", RESTART, "--by", "ana", "--db", db)
    assert code == 2 and "no widening" in text, text
    assert autonomy_decisions(open_engine(str(db)).store) == []
