"""Crash sweep: SIGKILL at random points of a long run against a target that cannot dedupe,
resume, and compare with an uninterrupted run: nothing lost, nothing done twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from baton.ledger.chain import verify
from baton.store import open_store
from baton.store import schema as t
from conftest import _postgres_url

EVENTS = 5000
KILLS = 10

RUNNER = textwrap.dedent("""
    import sys
    from baton.bench import bench_config, bench_events
    from baton.config import Connectors
    from baton.engine.pipeline import Engine
    from baton.execution.command import CommandConnector
    from baton.execution.queue import QueueConnector
    from baton.store import open_store

    db, log, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    config = bench_config(40)
    config = config.model_copy(update={"settings": config.settings.model_copy(
        update={"connectors": Connectors(default="command")})})
    # the target appends "key kind resource" to a file: it cannot tell a repeat
    script = 'printf "%s %s %s\\\\n" "$BATON_IDEMPOTENCY_KEY" "$1" "$2" >> "$3"'
    argv = {kind: ["sh", "-c", script, "sh", "{kind}", "{resource}", log]
            for kind in ("restart", "scale_out", "scale_in", "rollback", "deploy")}
    # snapshots every 1,000 events: restarts load one and replay the tail, under kills too
    engine = Engine(config, store=open_store(db), snapshot_every=1000, connectors={
        "command": CommandConnector(argv=argv), "queue": QueueConnector()})
    kill_at = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    if kill_at:  # die just before the kill_at-th commit: no action is then mid-send
        import os, signal
        commits, commit = [0], engine.store.commit
        def dying(step):
            commits[0] += 1
            if commits[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            commit(step)
        engine.store.commit = dying
    engine.ingest(bench_events(count, 40, seed=3))
    engine.recover()
    print("ready", flush=True)
    engine.process_pending(batch=50)
    engine.settle()
    print("done", flush=True)
""")


def _start(script: Path, db: str, log: Path, events: int = EVENTS,
           kill_at: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(script), db, str(log), str(events),
                             str(kill_at)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _target(log: Path) -> list[tuple[str, str, str]]:
    lines = [line.split(" ") for line in log.read_text().splitlines() if line]
    return [(key, kind, resource) for key, kind, resource in lines]


def _outcome(db: str) -> tuple[dict[str, str], tuple[int, str], dict[str, int]]:
    store = open_store(db)
    try:
        with store.engine.connect() as conn:
            rows = dict(conn.execute(select(t.executions.c.key, t.executions.c.status)).all())
        check = verify(store.ledger_rows())
        assert check.ok, check.problem
        return ({str(k): str(v) for k, v in rows.items()}, store.ledger_head(),
                store.counts())
    finally:
        store.close()


def _uninterrupted(script: Path, db: str, log: Path) -> None:
    proc = _start(script, db, log)
    _, errs = proc.communicate(timeout=400)
    assert proc.returncode == 0, errs[-3000:]


def _with_kills(script: Path, db: str, log: Path, rng: random.Random) -> int:
    kills = 0
    for _ in range(40):
        proc = _start(script, db, log)
        assert proc.stdout is not None
        ready = proc.stdout.readline()  # recovery is done: kill somewhere in the processing
        if ready.strip() != "ready":
            _, errs = proc.communicate(timeout=60)
            pytest.fail(f"the runner did not come up: {ready!r} {errs[-3000:]}")
        if kills >= KILLS:
            _, errs = proc.communicate(timeout=400)
            assert proc.returncode == 0, errs[-3000:]
            return kills
        time.sleep(rng.uniform(0.05, 1.5))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=60)
        if proc.returncode == 0:
            return kills
    return kills


@pytest.fixture(params=["sqlite", "postgres"])
def two_dbs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "sqlite":
        yield str(tmp_path / "calm.db"), str(tmp_path / "crash.db")
    else:
        calm = _postgres_url()
        crash = _postgres_url()
        yield next(calm), next(crash)
        for gen in (calm, crash):
            next(gen, None)  # runs on past its yield: the database is dropped


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_sigkill_at_random_points_loses_nothing_and_repeats_no_action(
        tmp_path: Path, two_dbs: tuple[str, str]) -> None:
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    calm_db, crash_db = two_dbs
    calm_log, crash_log = tmp_path / "calm.log", tmp_path / "crash.log"
    _uninterrupted(script, calm_db, calm_log)
    kills = _with_kills(script, crash_db, crash_log, random.Random(11))
    assert kills >= KILLS, f"only {kills} kills landed before the run finished"

    calm_exec, calm_head, calm_counts = _outcome(calm_db)
    crash_exec, crash_head, crash_counts = _outcome(crash_db)
    assert calm_counts["processed"] == EVENTS and set(calm_exec.values()) == {"done"}
    # every event is processed, none set aside
    assert crash_counts["events"] == crash_counts["processed"] == EVENTS
    assert crash_counts["dead_letters"] == 0
    sent = _target(crash_log)
    keys = [k for k, _, _ in sent]
    assert len(keys) == len(set(keys)), "an action reached the target twice"
    # nothing reached the target without its record, and every "done" did reach it
    assert {k for k, s in crash_exec.items() if s == "done"} <= set(keys)
    assert set(keys) <= set(crash_exec)
    # no compensation undid an action that had succeeded
    for key in crash_exec:
        if key.endswith(":compensate"):
            assert crash_exec[key.removesuffix(":compensate")] != "done", key
    # an action interrupted mid-send is `unknown`: never sent again, never compensated
    unknown = {k for k, s in crash_exec.items() if s == "unknown"}
    assert not {k + ":compensate" for k in unknown} & set(crash_exec)
    assert not [k for k, s in crash_exec.items() if s == "started"], "left started"
    # the same actions reached the target as in the run nobody interrupted, with the same
    # keys, and the same ledger: ids and keys derive from causes, not from counters
    calm_sent = _target(calm_log)
    same = Counter((kind, res) for k, kind, res in sent if k not in unknown)
    expected = Counter((kind, res) for k, kind, res in calm_sent if k not in unknown)
    assert same == expected
    assert set(keys) - unknown == {k for k, _, _ in calm_sent} - unknown
    print(f"{kills} kills, {len(sent)} actions, {len(unknown)} interrupted mid-send")
    if not unknown:
        assert crash_head == calm_head, "the ledger differs from the uninterrupted run's"
        return
    # Each interrupted action waits for a person instead of counting as done, and the
    # ledger differs by exactly that: its result says unknown, and its escalation (with
    # the steps up its chain, and the escalation records of its pages) is extra. Every
    # other record is the same, in the same order.
    # (The people paged for it carry that page into fair assignment, so assignment
    # records after it may differ too; and its outcome is `failed` when its result came
    # back, instead of what its effect window would have shown.)
    calm, crash = _ledger(calm_db), _ledger(crash_db)
    waiting = {crash_exec_decision(k) for k in unknown}
    store = open_store(crash_db)
    notes = {e.decision: e.note for e in store.escalations()}
    store.close()
    for key in unknown:  # the inbox says what to check on the target
        assert "Reconcile by hand" in notes[crash_exec_decision(key)]
        assert key in notes[crash_exec_decision(key)]
    for rid, body in calm.items():
        other = crash.get(rid)
        if other != body:
            changed = sorted(k for k in {*body, *(other or {})}
                             if (other or {}).get(k) != body.get(k))
            assert (body["record"] == "result" and body["key"] in unknown) or (
                body.get("situation_kind") == "assignment" and other is not None) or (
                body["record"] == "outcome" and body["decision"] in waiting), \
                (rid, changed, body.get("situation_kind"))
    for rid, body in crash.items():
        if rid not in calm:
            assert (body["record"] == "result" and body["key"] in unknown
                    and body["status"] == "unknown") or body.get("chosen") in waiting or \
                body.get("situation_kind") == "assignment" or (
                    body["record"] in ("escalation", "outcome")
                    and body["decision"] in waiting), body
    common = [rid for rid in crash if rid in calm]
    assert common == [rid for rid in calm if rid in crash]


def crash_exec_decision(key: str) -> str:
    return key.split(":", 1)[0]


def _ledger(db: str) -> dict[str, dict[str, Any]]:
    store = open_store(db)
    try:
        return {r.record_id: json.loads(r.body) for r in store.ledger_rows()}
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_between_commits_gives_the_uninterrupted_ledger_head(tmp_path: Path) -> None:
    """Killed at random commits (no action mid-send at that moment), resumed: the same
    ledger head, the same actions, and nothing for a person to reconcile."""
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    events = 2000
    calm_db, crash_db = str(tmp_path / "calm.db"), str(tmp_path / "crash.db")
    calm_log, crash_log = tmp_path / "calm.log", tmp_path / "crash.log"
    calm = _start(script, calm_db, calm_log, events)
    _, errs = calm.communicate(timeout=300)
    assert calm.returncode == 0, errs[-3000:]
    rng = random.Random(5)
    kills = 0
    for _ in range(KILLS):
        # at most 3 commits of at most 50 events per run: every kill lands before the end
        proc = _start(script, crash_db, crash_log, events, kill_at=rng.randint(2, 4))
        proc.communicate(timeout=300)
        kills += proc.returncode == -signal.SIGKILL
    final = _start(script, crash_db, crash_log, events)
    _, errs = final.communicate(timeout=300)
    assert final.returncode == 0, errs[-3000:]
    assert kills == KILLS, f"only {kills} kills"
    calm_exec, calm_head, _ = _outcome(calm_db)
    assert set(calm_exec.values()) == {"done"}
    crash_exec, crash_head, counts = _outcome(crash_db)
    assert counts["processed"] == counts["events"]
    assert "unknown" not in set(crash_exec.values())
    assert sorted(_target(crash_log)) == sorted(_target(calm_log))
    assert crash_head == calm_head
