"""The storage port on every backend: event log, atomic steps, ledger, decisions, state."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.exc import IntegrityError

from baton.ledger.chain import GENESIS, LedgerRow
from baton.ledger.writer import LedgerWriter
from baton.model import Decision, Escalation, Event, Verdict, VerdictKind
from baton.store import ExecutionRecord, Step, open_store
from baton.store.sql import SqlStore
from conftest import T0


def event(key: str, *, minute: int = 0, entity: str = "db", kind: str = "service.down",
          **attrs: object) -> Event:
    """One event `minute` minutes after T0."""
    return Event(key=key, type=kind, entity=entity, time=T0 + timedelta(minutes=minute),
                 attrs=dict(attrs))


def decision(n: int, *, domain: str = "reliability", outcome: str = "executed",
             verdict: VerdictKind | None = VerdictKind.AUTONOMOUS,
             decided_by: str = "reliability-agent") -> Decision:
    """Decision number `n`, with the fields the store indexes set as asked."""
    return Decision(
        id=f"D-{n:07d}", time=T0 + timedelta(minutes=n), event=f"e{n}", situation=f"S:{n}",
        situation_kind="service_down", entity="db", domain=domain, decided_by=decided_by,
        chosen=f"S:{n}/0", action={"kind": "restart", "resource": "db"},
        verdict=None if verdict is None else Verdict(kind=verdict, policy_ids=("p1",)),
        outcome=outcome, rationale=f"reason {n}")


def commit_decisions(store: SqlStore, decisions: list[Decision],
                     ms: float = 1.5) -> list[LedgerRow]:
    """Chain the decisions onto the store's ledger and commit them in one step."""
    seq, head = store.ledger_head()
    writer = LedgerWriter(seq, head)
    rows = [writer.append(d.id, d.model_dump(mode="json")) for d in decisions]
    store.commit(Step(ledger=rows, decisions=[(d, ms) for d in decisions]))
    return rows


def escalation(n: int, *, status: str = "open", minute: int = 0) -> Escalation:
    """Escalation number `n`, created `minute` minutes after T0."""
    created = T0 + timedelta(minutes=minute)
    return Escalation(id=f"E-{n:07d}", decision=f"D-{n:07d}", created=created,
                      deadline=created + timedelta(minutes=15), approver="oncall",
                      candidates=["ana"], action={"kind": "restart", "resource": "api"},
                      domain="reliability", situation=f"S:{n}", status=status)


def keys(found: list[tuple[int, Event]]) -> list[str]:
    """The idempotency keys of (seq, event) pairs."""
    return [e.key for _, e in found]


# --- event log -----------------------------------------------------------------------------


def test_appended_events_survive_reopening_the_store(store: SqlStore, store_url: str) -> None:
    first, second = event("k1"), event("k2", minute=1, entity="api")
    assert store.append_events([first, second]) == [True, True]
    store.close()

    again = open_store(store_url)
    try:
        found = again.events()
        assert [e for _, e in found] == [first, second]
        assert again.counts()["events"] == 2
    finally:
        again.close()


def test_a_duplicate_key_is_acknowledged_and_ignored(store: SqlStore) -> None:
    original = event("k1")
    assert store.append_events([original]) == [True]

    clash = event("k1", minute=5, entity="api")
    assert store.append_events([clash, event("k2")]) == [False, True]

    assert store.counts()["events"] == 2
    assert [e for _, e in store.events()] == [original, event("k2")]


def test_a_duplicate_key_within_one_batch_is_stored_once(store: SqlStore) -> None:
    first = event("k1")
    assert store.append_events([first, event("k1", minute=3), event("k2"), first]) == \
        [True, False, True, False]
    assert store.counts()["events"] == 2
    assert keys(store.events()) == ["k1", "k2"]
    assert store.events()[0][1] == first  # the first of the duplicates is the one kept


def test_appending_no_events_accepts_nothing(store: SqlStore) -> None:
    assert store.append_events([]) == []
    assert store.counts()["events"] == 0


def test_events_come_back_in_acceptance_order_not_time_order(store: SqlStore) -> None:
    store.append_events([event("late", minute=30), event("early", minute=0)])
    store.append_events([event("middle", minute=10)])
    found = store.events()
    assert keys(found) == ["late", "early", "middle"]
    seqs = [seq for seq, _ in found]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3


def test_events_filter_by_after_processed_and_limit(store: SqlStore) -> None:
    store.append_events([event(f"k{i}", minute=i) for i in range(1, 6)])
    seqs = [seq for seq, _ in store.events()]
    store.commit(Step(processed=[seqs[0], seqs[2]]))

    assert keys(store.events(after=seqs[1])) == ["k3", "k4", "k5"]
    assert keys(store.events(processed=True)) == ["k1", "k3"]
    assert keys(store.events(processed=False)) == ["k2", "k4", "k5"]
    assert keys(store.events(limit=2)) == ["k1", "k2"]
    assert keys(store.events(after=seqs[0], processed=False, limit=2)) == ["k2", "k4"]
    assert store.events(after=seqs[-1]) == []
    assert store.counts()["processed"] == 2


def test_events_of_several_types_come_back_merged_in_order_and_limited(
        store: SqlStore) -> None:
    kinds = ["baton.autonomy", "alert", "baton.objectives", "baton.autonomy", "alert",
             "baton.kill_switch", "baton.objectives"]
    store.append_events([event(f"k{i}", minute=i, kind=kind) for i, kind in enumerate(kinds)])
    seqs = [seq for seq, _ in store.events()]
    store.commit(Step(processed=[seqs[0]]))
    urgent = ("baton.kill_switch", "baton.objectives", "baton.autonomy")

    assert keys(store.events(processed=False, types=urgent)) == ["k2", "k3", "k5", "k6"]
    assert keys(store.events(processed=False, types=urgent, limit=3)) == ["k2", "k3", "k5"]
    assert keys(store.events(after=seqs[3], types=urgent)) == ["k5", "k6"]
    assert keys(store.events(types=("alert",))) == ["k1", "k4"]


def test_commands_behind_a_backlog_are_found_through_an_index(tmp_path: Path) -> None:
    # The engine asks for waiting commands behind every full batch: on a long backlog that
    # must be an index search per type, not a read of the backlog.
    store = open_store(tmp_path / "plan.db")
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *rest: Any) -> None:
        if "FROM events" in statement:
            seen.append((statement, params))

    sa_event.listen(store.engine, "before_cursor_execute", capture)
    store.events(processed=False, types=("baton.autonomy", "baton.objectives"))
    sa_event.remove(store.engine, "before_cursor_execute", capture)
    assert len(seen) == 2
    with store.engine.connect() as conn:
        for statement, params in seen:
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, params))
            assert "ix_events_waiting_type" in plan, plan
    store.close()


def test_an_index_added_since_a_database_was_made_is_created_when_it_opens(
        tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    open_store(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("DROP INDEX ix_events_waiting_type")
    store = open_store(db)
    with store.engine.connect() as conn:
        names = {row[0] for row in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "ix_events_waiting_type" in names
    store.close()


# --- atomic steps --------------------------------------------------------------------------


def test_a_step_that_fails_part_way_writes_nothing(store: SqlStore) -> None:
    store.append_events([event("k1"), event("k2", minute=1)])
    commit_decisions(store, [decision(1)])
    before = store.counts()
    head = store.ledger_head()
    seqs = [seq for seq, _ in store.events()]

    # A second writer that believes the ledger is empty numbers its row 1 again.
    clash = LedgerWriter(0, GENESIS).append("D-0000099", {"id": "D-0000099"})
    assert clash.seq == 1
    step = Step(processed=seqs, ledger=[clash], escalations=[escalation(1)],
                executions=[ExecutionRecord(key="x1", decision="D-0000099", kind="restart",
                                            resource="db", connector="sim", status="done")],
                settings={"kill_switch": "on"})
    with pytest.raises(IntegrityError):
        store.commit(step)

    assert store.counts() == before
    assert store.ledger_head() == head
    assert keys(store.events(processed=False)) == ["k1", "k2"]
    assert store.escalation("E-0000001") is None
    assert store.execution("x1") is None
    assert store.setting("kill_switch") is None
    assert [r.record_id for r in store.ledger_rows()] == ["D-0000001"]


def test_a_step_writes_all_its_parts_together(store: SqlStore) -> None:
    store.append_events([event("k1")])
    (seq, _), = store.events()
    seq_before, head = store.ledger_head()
    row = LedgerWriter(seq_before, head).append("D-0000001", decision(1).model_dump(mode="json"))
    store.commit(Step(processed=[seq], ledger=[row], decisions=[(decision(1), 2.0)],
                      escalations=[escalation(1)], settings={"clock": "virtual"}))
    assert store.counts() == {"events": 1, "processed": 1, "ledger": 1, "decisions": 1,
                              "escalations": 1, "executions": 0, "dead_letters": 0}
    assert store.setting("clock") == "virtual"
    assert store.engine_ms() == [2.0]


def test_an_empty_step_changes_nothing(store: SqlStore) -> None:
    before = store.counts()
    store.commit(Step())
    assert store.counts() == before
    assert store.ledger_head() == (0, GENESIS)


# --- ledger ----------------------------------------------------------------------------------


def test_an_empty_ledger_has_the_genesis_head(store: SqlStore) -> None:
    assert store.ledger_head() == (0, GENESIS)
    assert list(store.ledger_rows()) == []


def test_the_ledger_head_is_the_last_committed_row(store: SqlStore) -> None:
    first = commit_decisions(store, [decision(1), decision(2)])
    assert store.ledger_head() == (2, first[-1].hash)

    second = commit_decisions(store, [decision(3)])
    assert store.ledger_head() == (3, second[-1].hash)
    assert second[0].prev_hash == first[-1].hash
    assert list(store.ledger_rows()) == first + second
    assert list(store.ledger_rows(after=2)) == second


# --- decisions -------------------------------------------------------------------------------


def test_decisions_are_listed_newest_first_with_hash_and_engine_time(store: SqlStore) -> None:
    rows = commit_decisions(store, [decision(1), decision(2)], ms=3.25)
    commit_decisions(store, [decision(3)], ms=0.5)

    found = store.decisions()
    assert [d["id"] for d in found] == ["D-0000003", "D-0000002", "D-0000001"]
    assert found[-1]["hash"] == rows[0].hash
    assert [d["engine_ms"] for d in found] == [0.5, 3.25, 3.25]
    assert found[-1]["rationale"] == "reason 1"
    assert sorted(store.engine_ms()) == [0.5, 3.25, 3.25]


def test_decisions_filter_by_domain_outcome_and_verdict(store: SqlStore) -> None:
    commit_decisions(store, [
        decision(1, domain="reliability", outcome="executed"),
        decision(2, domain="cost", outcome="executed"),
        decision(3, domain="reliability", outcome="escalated", verdict=VerdictKind.APPROVAL),
        decision(4, domain="cost", outcome="denied", verdict=VerdictKind.DENIED),
        decision(5, domain="reliability", outcome="correlated", verdict=None),
    ])

    def ids(**filters: str) -> list[str]:
        return [d["id"] for d in store.decisions(filters=filters)]

    assert ids(domain="cost") == ["D-0000004", "D-0000002"]
    assert ids(outcome="executed") == ["D-0000002", "D-0000001"]
    assert ids(verdict="approval") == ["D-0000003"]
    assert ids(verdict="autonomous") == ["D-0000002", "D-0000001"]
    assert ids(domain="reliability", outcome="executed") == ["D-0000001"]
    assert ids(domain="security") == []
    assert ids(decided_by="reliability-agent") == [f"D-{n:07d}" for n in (5, 4, 3, 2, 1)]


def test_decisions_paginate_with_limit_and_offset(store: SqlStore) -> None:
    commit_decisions(store, [decision(n) for n in range(1, 8)])

    def page(limit: int, offset: int) -> list[str]:
        return [d["id"] for d in store.decisions(limit=limit, offset=offset)]

    assert page(3, 0) == ["D-0000007", "D-0000006", "D-0000005"]
    assert page(3, 3) == ["D-0000004", "D-0000003", "D-0000002"]
    assert page(3, 6) == ["D-0000001"]
    assert page(3, 9) == []


def test_one_decision_comes_back_with_its_body_and_hash(store: SqlStore) -> None:
    rows = commit_decisions(store, [decision(1), decision(2, outcome="escalated")])

    found = store.decision("D-0000002")
    assert found is not None
    assert found["hash"] == rows[1].hash
    assert found["ledger_seq"] == 2
    body = {k: v for k, v in found.items() if k not in ("hash", "ledger_seq")}
    assert Decision.model_validate(body) == decision(2, outcome="escalated")


def test_an_unknown_decision_id_is_none(store: SqlStore) -> None:
    commit_decisions(store, [decision(1)])
    assert store.decision("D-9999999") is None


# --- escalations -----------------------------------------------------------------------------


def test_committing_an_escalation_again_updates_it_in_place(store: SqlStore) -> None:
    opened = escalation(1)
    store.commit(Step(escalations=[opened]))
    assert store.escalation("E-0000001") == opened

    approved = opened.model_copy(update={"status": "approved", "resolved_by": "ana",
                                         "resolved_at": T0 + timedelta(minutes=3),
                                         "comment": "go"})
    store.commit(Step(escalations=[approved]))

    assert store.escalation("E-0000001") == approved
    assert store.counts()["escalations"] == 1
    assert store.escalations(status="open") == []
    assert store.escalations(status="approved") == [approved]


def test_escalations_filter_by_status_oldest_first(store: SqlStore) -> None:
    newest = escalation(1, minute=20)
    oldest = escalation(2, minute=0, status="expired")
    middle = escalation(3, minute=10)
    store.commit(Step(escalations=[newest, oldest, middle]))

    assert [e.id for e in store.escalations()] == ["E-0000002", "E-0000003", "E-0000001"]
    assert [e.id for e in store.escalations(status="open")] == ["E-0000003", "E-0000001"]
    assert store.escalations(status="expired") == [oldest]
    assert store.escalations(status="rejected") == []
    assert store.escalation("E-0000404") is None


# --- executions ------------------------------------------------------------------------------


def test_an_execution_is_started_then_marked_done_by_a_step(store: SqlStore) -> None:
    started = ExecutionRecord(key="D-0000001:restart:db", decision="D-0000001", kind="restart",
                              resource="db", connector="sim", status="started")
    store.begin_execution(started)
    assert store.execution(started.key) == started
    assert store.counts()["executions"] == 1

    done = replace(started, status="done", attempts=2, detail="restarted",
                   at=T0 + timedelta(minutes=1))
    store.commit(Step(executions=[done]))

    assert store.execution(started.key) == done
    assert store.counts()["executions"] == 1


def test_an_unknown_execution_key_is_none(store: SqlStore) -> None:
    assert store.execution("never-sent") is None


# --- settings --------------------------------------------------------------------------------


def test_settings_are_upserted_by_key(store: SqlStore) -> None:
    assert store.setting("kill_switch") is None
    store.commit(Step(settings={"kill_switch": "on", "clock": "virtual"}))
    assert store.setting("kill_switch") == "on"

    store.commit(Step(settings={"kill_switch": "off"}))
    assert store.setting("kill_switch") == "off"
    assert store.setting("clock") == "virtual"


def test_work_items_are_queued_once_per_key(store: SqlStore) -> None:
    row = {"key": "D-1:assign_ticket:T1", "title": "assign_ticket T1", "domain": "support",
           "decision": "D-1", "created": "2026-03-02T10:00:00+00:00", "body": "{}"}
    assert store.add_work_item(row) is True
    assert store.add_work_item(dict(row, title="changed")) is False
    (item,) = store.work_items()
    assert item["title"] == "assign_ticket T1" and item["status"] == "open"
    assert store.work_items(status="done") == []
