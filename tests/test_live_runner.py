"""One engine per database: a live runner leads it under a lease; commands hand it work."""

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
from baton.store import open_store


def baton_cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.timeout(90)
def test_commands_hand_their_events_to_the_live_runner(tmp_path: Path,
                                                       starter_dir: Path) -> None:
    db = tmp_path / "live.db"
    now = datetime.now(UTC) - timedelta(minutes=1)
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps({"key": "k1", "type": "service.down", "entity": "api",
                                  "time": now.strftime("%Y-%m-%dT%H:%M:%SZ")}) + "\n")
    code, out = baton_cli("ingest", events, "--db", db, "--config", starter_dir)
    assert code == 0, out
    (esc,) = open_store(db).escalations(status="open")

    runner = subprocess.Popen([sys.executable, "-m", "baton.cli", "run", str(starter_dir),
                               "--db", str(db), "--follow", "--tick", "0.3"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while open_store(db).setting("config") is None or not _leased(db):
            assert runner.poll() is None, runner.stdout.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.1)
        # A second runner is refused while the first holds the lease.
        code, out = baton_cli("run", starter_dir, "--db", db)
        assert code == 2 and "another runner" in out
        # An approval is appended here and decided by the runner.
        code, out = baton_cli("approve", esc.id, "--db", db, "--by", "ana", "--comment", "go ahead")
        assert code == 0, out
        # decided by the runner; its action may still be on its way when the CLI answers
        assert "approved; executed" in out or "approved; dispatched" in out, out
        decision = out.split(":", 1)[0].split()[-1]
        deadline = time.monotonic() + 60
        while "executed" not in str((open_store(db).decision(decision) or {}).get("outcome")):
            assert time.monotonic() < deadline, "the approved action never came back"
            time.sleep(0.2)
        stored = open_store(db).escalation(esc.id)
        assert stored is not None and stored.status == "approved"
    finally:
        runner.terminate()
        runner.communicate(timeout=20)


def _leased(db: Path) -> bool:
    """Whether some process holds a live lease on the database's engine."""
    from sqlalchemy.exc import OperationalError

    from baton.cluster.leadership import leaders

    store = open_store(db, create=False)
    try:
        return any(row["live"] for row in leaders(store.engine))
    except OperationalError:  # the runner has not created its tables yet
        return False
    finally:
        store.close()


def test_a_stopped_runner_gives_its_lease_back(tmp_path: Path, starter_dir: Path) -> None:
    db = tmp_path / "live.db"
    runner = subprocess.Popen([sys.executable, "-m", "baton.cli", "run", str(starter_dir),
                               "--db", str(db), "--follow", "--tick", "0.2"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (db.exists() and _leased(db)):
            assert runner.poll() is None, runner.communicate()[0].decode()[-2000:]
            assert time.monotonic() < deadline, "the runner never took the lease"
            time.sleep(0.1)
        runner.terminate()
        runner.wait(timeout=30)
        assert not _leased(db)
    finally:
        if runner.poll() is None:
            runner.kill()
        runner.communicate(timeout=30)
