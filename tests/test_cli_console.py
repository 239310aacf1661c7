"""CLI answers a newcomer can act on: bad choices named, unreadable files, --follow progress."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baton.cli import app


def baton_cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, " ".join(result.output.split())


def _event(key: str, entity: str) -> str:
    at = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({"key": key, "type": "service.down", "entity": entity, "time": at})


def test_a_file_that_is_not_utf8_is_refused_by_name_without_a_traceback(
        tmp_path: Path, starter_dir: Path) -> None:
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(_event("k1", "api").encode() + b"\n{\"key\": \"caf\xe9\"}\n")
    code, out = baton_cli("ingest", bad, "--db", tmp_path / "x.db", "--config", starter_dir)
    assert code == 2, out
    assert f"{bad}: not UTF-8 text (byte" in out and "nothing was accepted" in out
    assert "Traceback" not in out and "UnicodeDecodeError" not in out


def test_unknown_choices_are_named_with_the_ones_that_exist(tmp_path: Path,
                                                            starter_dir: Path) -> None:
    db = tmp_path / "c.db"
    events = tmp_path / "e.jsonl"
    events.write_text(_event("k1", "api") + "\n")
    assert baton_cli("ingest", events, "--db", db, "--config", starter_dir)[0] == 0
    code, out = baton_cli("decisions", "--db", db, "--verdict", "autonomus")
    assert code == 2 and "--verdict 'autonomus' is not one of: autonomous, approval, denied" in out
    code, out = baton_cli("escalations", "--db", db, "--status", "everything")
    assert code == 2 and "all" in out.split("not one of:")[1]
    code, out = baton_cli("escalations", "--db", db, "--status", "all")
    assert code == 0 and "restart api" in out


@pytest.mark.timeout(90)
def test_run_follow_says_it_follows_and_reports_what_it_processes(
        tmp_path: Path, starter_dir: Path) -> None:
    db = tmp_path / "f.db"
    first = tmp_path / "first.jsonl"
    first.write_text(_event("k1", "api") + "\n")
    assert baton_cli("ingest", first, "--db", db, "--config", starter_dir)[0] == 0
    runner = subprocess.Popen([sys.executable, "-m", "baton.cli", "run", str(starter_dir),
                               "--db", str(db), "--follow", "--tick", "0.2"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert runner.stdout is not None
        deadline = time.monotonic() + 60
        while not any(line.startswith("following ") for line in lines):
            assert time.monotonic() < deadline and runner.poll() is None, lines
            lines.append(runner.stdout.readline().strip())
        later = tmp_path / "later.jsonl"
        later.write_text(_event("k2", "db") + "\n")
        code, out = baton_cli("ingest", later, "--db", db, "--config", starter_dir,
                              "--no-wait")
        assert code == 0, out
        while not any(" processed " in line and "events; ledger at row" in line
                      for line in lines[2:]):
            assert time.monotonic() < deadline and runner.poll() is None, lines
            lines.append(runner.stdout.readline().strip())
    finally:
        runner.terminate()
        runner.communicate(timeout=20)
    text = " ".join(lines)  # Rich wraps at 80 columns in a pipe
    assert "new events are processed as they arrive" in text and "Ctrl-C stops" in text
