"""Crash safety: SIGKILL at random points, resume, and nothing is lost or done twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from baton.ledger.chain import verify
from baton.store import open_store

WORKER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from baton.bench import bench_config, bench_events
    from baton.config import Connectors
    from baton.engine.pipeline import Engine
    from baton.execution.command import CommandConnector
    from baton.execution.queue import QueueConnector
    from baton.store import open_store

    db, log = sys.argv[1], sys.argv[2]
    config = bench_config(40)
    config = config.model_copy(update={"settings": config.settings.model_copy(
        update={"connectors": Connectors(default="command")})})
    script = ("import os, sys; f = open(sys.argv[1], 'a'); "
              "f.write(os.environ['BATON_IDEMPOTENCY_KEY'] + chr(10)); f.flush()")
    argv = {kind: [sys.executable, "-c", script, log]
            for kind in ("restart", "scale_out", "scale_in", "rollback", "deploy")}
    engine = Engine(config, store=open_store(db), connectors={
        "command": CommandConnector(argv=argv), "queue": QueueConnector()})
    engine.ingest(bench_events(400, 40, seed=3))
    engine.process_pending(batch=5)
    print("done", flush=True)
""")


def _run(script: Path, db: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(script), str(db), str(log)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sigkill_at_random_points_loses_nothing_and_repeats_no_action(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    db, log = tmp_path / "crash.db", tmp_path / "actions.log"
    rng = random.Random(11)
    kills = 0
    for _ in range(6):
        proc = _run(script, db, log)
        time.sleep(rng.uniform(0.7, 2.0))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.communicate()
    final = _run(script, db, log)
    _, errs = final.communicate(timeout=200)
    assert final.returncode == 0, errs.decode()[-2000:]
    assert kills >= 3, "the worker finished too fast to be killed mid-run"

    store = open_store(db)
    counts = store.counts()
    assert counts["events"] == 400
    assert counts["processed"] == 400, "every accepted event is processed after resume"
    keys = [line for line in log.read_text().splitlines() if line]
    assert len(keys) == len(set(keys)), "an action was executed twice"
    check = verify(store.ledger_rows())
    assert check.ok, check.problem
    with store.engine.connect() as conn:
        from sqlalchemy import select

        from baton.store.schema import executions

        rows = conn.execute(select(executions.c.key, executions.c.status)).all()
    done = {k for k, s in rows if s == "done"}
    assert done <= set(keys), "every action recorded as done reached the target"
    unknown = {k for k, s in rows if s in ("unknown", "started")}
    assert set(keys) <= done | unknown, "nothing reached the target without a record"
