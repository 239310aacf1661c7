"""Snapshots: a restart loads the newest good one and replays only the tail; the result is
the same as replaying everything, and a bad snapshot falls back to the whole log."""

from __future__ import annotations

import logging
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from baton.bench import bench_config, bench_events
from baton.config import Config
from baton.connectors import build_connectors
from baton.engine.pipeline import Engine
from baton.store import open_store
from baton.store import schema as t

LOAD = bench_events(2000, 60, seed=5)


def _engine(config: Config, db: Path, every: int | None) -> Engine:
    store = open_store(db)
    return Engine(config, store=store, connectors=build_connectors(config, store=store),
                  snapshot_every=every)


def _first_run(config: Config, db: Path, every: int | None) -> None:
    engine = _engine(config, db, every)
    engine.ingest(LOAD[:1500])
    engine.process_pending(batch=200)
    engine.store.close()


@pytest.fixture(scope="module")
def config() -> Config:
    return bench_config(60)


def test_a_snapshot_and_the_tail_give_what_the_whole_log_gives(config: Config,
                                                                tmp_path: Path) -> None:
    _first_run(config, tmp_path / "snap.db", 500)
    _first_run(config, tmp_path / "full.db", None)
    quick, whole = _engine(config, tmp_path / "snap.db", 500), \
        _engine(config, tmp_path / "full.db", None)
    quick.recover()
    whole.recover()
    assert quick.recovery["snapshot_at"] and whole.recovery["snapshot_at"] is None
    assert int(str(quick.recovery["replayed"])) < 500 < int(str(whole.recovery["replayed"]))
    assert (quick.ledger.seq, quick.ledger.head) == (whole.ledger.seq, whole.ledger.head)
    assert quick.stats == whole.stats and quick.last_seq == whole.last_seq
    assert sorted(quick.actor.open) == sorted(whole.actor.open)
    # and the next decisions are the same
    for engine in (quick, whole):
        engine.ingest(LOAD[1500:])
        engine.process_pending(batch=200)
    assert quick.store.ledger_head() == whole.store.ledger_head()
    assert quick.stats.decisions == whole.stats.decisions
    quick.store.close()
    whole.store.close()


def test_a_corrupt_or_mismatched_snapshot_falls_back_to_the_whole_log(
        config: Config, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "bad.db"
    _first_run(config, db, 500)
    store = open_store(db)
    head = store.ledger_head()
    with store.engine.begin() as conn:  # flip bytes in every stored snapshot
        conn.execute(update(t.snapshots).values(body=b"\x80\x05garbage"))
    store.close()
    engine = _engine(config, db, 500)
    with caplog.at_level(logging.WARNING, logger="baton.engine.pipeline"):
        engine.recover()
    assert engine.recovery["snapshot_at"] is None
    assert (engine.ledger.seq, engine.ledger.head) == head
    assert "does not match its digest" in caplog.text
    engine.store.close()
    # a snapshot taken under another configuration is not used either
    _first_run(config, tmp_path / "other.db", 500)
    changed = config.model_copy(update={"settings": config.settings.model_copy(
        update={"seed": config.settings.seed + 1})})
    caplog.clear()
    other = _engine(changed, tmp_path / "other.db", 500)
    with caplog.at_level(logging.WARNING, logger="baton.engine.pipeline"):
        other.recover()
    assert other.recovery["snapshot_at"] is None
    assert "another configuration" in caplog.text
    other.store.close()


def test_the_tail_after_a_snapshot_is_read_through_the_fold_order_index(
        config: Config, tmp_path: Path) -> None:
    # A restart reads only the events after its snapshot; on a long log that must be an
    # index search from that position, not a scan (and sort) of every processed event.
    from sqlalchemy import event

    db = tmp_path / "plan.db"
    _first_run(config, db, None)
    store = open_store(db)
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *rest: Any) -> None:
        if "FROM events" in statement and "ord" in statement:
            seen.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", capture)
    tail = store.folded(after=1000, limit=10)
    assert [pos for pos, _, _ in tail] == list(range(1001, 1011))
    ((statement, params),) = seen
    with store.engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + statement, params))
    assert "ix_events_ord" in plan and "TEMP B-TREE" not in plan, plan
    store.close()


def test_a_large_state_spaces_the_next_snapshots_out_in_proportion(
        config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Writing a snapshot costs in proportion to the state's size: a state k times the
    # reference size waits k times as many events for the next one, so snapshots cost the
    # same per event whatever the size of the organisation.
    from baton.engine import pipeline, recovery

    taken: list[tuple[int, int]] = []
    real = recovery.take_snapshot

    def counted(engine: Engine) -> int:
        size = real(engine)
        taken.append((engine.ord, size))
        return size

    def run(db: Path) -> list[tuple[int, int]]:
        taken.clear()
        engine = _engine(config, db, 100)
        engine.ingest(LOAD[:800])
        engine.process_pending(batch=100)
        engine.store.close()
        return list(taken)

    monkeypatch.setattr(recovery, "take_snapshot", counted)
    small = run(tmp_path / "small.db")
    assert len(small) >= 6 and all(size > 0 for _, size in small)
    monkeypatch.setattr(pipeline, "SNAPSHOT_BYTES", max(1, small[0][1] // 3))
    large = run(tmp_path / "large.db")
    assert 1 <= len(large) < len(small)
    gaps = [b[0] - a[0] for a, b in pairwise(large)]
    assert all(gap >= 3 * 100 for gap in gaps)
    # and a restart from the last one still gives what the whole log gives
    quick = _engine(config, tmp_path / "large.db", 100)
    quick.recover()
    assert quick.recovery["snapshot_at"] == large[-1][0]
    assert (quick.ledger.seq, quick.ledger.head) == quick.store.ledger_head()
    quick.store.close()
