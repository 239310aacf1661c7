"""Escalation paging steps and the policy set in force are ledger records, and `audit
verify` names an edit of either (the escalations table's paging history, a page record, the
policy files or a policy-set record), like the 13 edits of test_audit_tamper."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from audit_support import NOW, Ledger, body, build
from baton.config import Config
from baton.connectors import build_connectors
from baton.engine.pipeline import Engine
from baton.ledger import audit, guard
from baton.ledger.chain import canonical
from baton.ledger.policyset import PolicySet
from baton.model import Escalation, Event
from baton.store import open_store
from baton.store import schema as t
from conftest import T0


@pytest.fixture
def ledger(starter: Config, store_url: str, tmp_path: Path) -> Iterator[Ledger]:
    yield from build(starter, store_url, tmp_path)


def records(ledger: Ledger, kind: str) -> list[tuple[int, str, dict[str, Any]]]:
    return [(r.seq, r.record_id, body(r)) for r in ledger.rows() if body(r).get("record") == kind]


def set_escalation(ledger: Ledger, esc: Escalation, **changes: Any) -> None:
    changed = esc.model_copy(update=changes)
    ledger.execute(update(t.escalations).where(t.escalations.c.id == esc.id)
                   .values(body=changed.model_dump_json(), status=changed.status))


def test_each_paging_step_and_the_policy_set_in_force_are_ledger_records(
        ledger: Ledger) -> None:
    (esc,) = ledger.store.escalations()
    pages = records(ledger, "escalation")
    assert [b["page"] for _, _, b in pages] == esc.history
    assert all(b["escalation"] == esc.id and b["change"] == "paged" for _, _, b in pages)
    ((seq, _, policies),) = records(ledger, "policies")
    assert seq == 1 and policies["version"] == 1 and policies["previous"] is None
    assert policies["hash"] == PolicySet.of(ledger.config.policies).hash
    assert set(policies["files"]) == {Path(f).name for f, _ in ledger.config.policies}
    report = ledger.verify(policies=PolicySet.of(ledger.config.policies))
    assert report.ok, report.first
    assert report.covered["policy sets"] == 1


def test_a_person_added_to_a_paging_step_is_named(ledger: Ledger) -> None:
    (esc,) = ledger.store.escalations()
    ((seq, _, _),) = records(ledger, "escalation")
    history = [dict(esc.history[0], candidates=[*esc.history[0]["candidates"], "raj"])]
    set_escalation(ledger, esc, history=history)
    report = ledger.verify()
    first = esc.history[0]
    assert report.first == (
        f"escalations {esc.id}: paging step 1 is {first['step']}: "
        f"{', '.join(first['candidates'])}, raj at {first['paged_at']} but ledger row {seq} "
        f"records {first['step']}: {', '.join(first['candidates'])} at {first['paged_at']}")


def test_an_edited_current_step_is_named(ledger: Ledger) -> None:
    (esc,) = ledger.store.escalations()
    ((seq, _, _),) = records(ledger, "escalation")
    set_escalation(ledger, esc, candidates=["raj"])
    report = ledger.verify()
    assert report.first == (f"escalations {esc.id}: its current candidates is ['raj'] but the "
                            f"last paging step, ledger row {seq}, records {esc.candidates!r}")
    set_escalation(ledger, esc, deadline=esc.deadline + timedelta(hours=5))
    assert ledger.verify().first.startswith(f"escalations {esc.id}: its deadline is ")


def test_an_edited_page_record_is_named_at_its_row(ledger: Ledger) -> None:
    ((seq, rid, b),) = records(ledger, "escalation")
    ledger.set_row(seq, body=canonical({**b, "page": {**b["page"], "candidates": ["raj"]}}))
    report = ledger.verify()
    assert report.first == f"row {seq} ({rid}): content does not match its hash (row edited)"


def test_a_page_record_removed_and_rechained_is_named(ledger: Ledger) -> None:
    ledger.checkpoint()
    (esc,) = ledger.store.escalations()
    rows = [r for r in ledger.rows() if body(r).get("record") != "escalation"]
    ledger.rechain(rows)
    problems = [str(f) for f in ledger.verify().findings]
    assert problems[0].startswith("checkpoint stored checkpoint 1: ")
    first = esc.history[0]
    assert (f"escalations {esc.id}: paging step 1 ({first['step']}: "
            f"{', '.join(first['candidates'])} at {first['paged_at']}) has no ledger record"
            ) in problems


def test_a_status_edited_to_expired_without_its_record_is_named(ledger: Ledger) -> None:
    (esc,) = ledger.store.escalations()
    set_escalation(ledger, esc, status="expired", resolved_by="baton")
    report = ledger.verify()
    assert report.first == (f"escalations {esc.id}: status expired, but the ledger records no "
                            "expired record of it")


def test_policy_files_changed_behind_the_ledger_are_named(ledger: Ledger) -> None:
    ((seq, _, recorded),) = records(ledger, "policies")
    files = [(name, text + "\n// loosened by hand\n") if i == 0 else (name, text)
             for i, (name, text) in enumerate(ledger.config.policies)]
    changed = PolicySet.of(files)
    report = audit.verify(ledger.store, ledger.key.public_key(), policies=changed)
    assert report.first == (
        f"policies in force: the policy files hash to {changed.hash[:16]} but ledger row "
        f"{seq}, the last policy set recorded, has {recorded['hash'][:16]}: they changed "
        "since without a record (a restart holds recovery until an operator acknowledges "
        "the change)")


def test_a_rewritten_policy_set_record_contradicts_the_checkpoint_and_the_files(
        ledger: Ledger) -> None:
    ledger.checkpoint()
    rows = ledger.rows()
    ((seq, rid, b),) = records(ledger, "policies")
    rows[seq - 1] = type(rows[0])(seq, rid, canonical({**b, "hash": "0" * 64}), "", "")
    ledger.rechain(rows)
    problems = [str(f) for f in ledger.verify(
        policies=PolicySet.of(ledger.config.policies)).findings]
    assert problems[0].startswith("checkpoint stored checkpoint 1: ")
    assert any(p.startswith("policies in force: the policy files hash to ") for p in problems)
    assert any(p.startswith("replay: replaying the log gives") for p in problems)


def test_a_policy_change_holds_recovery_and_its_acknowledgement_records_the_new_set(
        ledger: Ledger, tmp_path: Path) -> None:
    files = [(name, text + "\n// reviewed\n") for name, text in ledger.config.policies]
    config = ledger.config.model_copy(update={"policies": files})
    new = PolicySet.of(files)
    engine = Engine(config, store=ledger.store, connectors=build_connectors(config))
    with pytest.raises(guard.LedgerHeldError, match="or the configuration changed since"):
        engine.recover()
    held = None
    try:
        Engine(config, store=ledger.store, connectors=build_connectors(config)).recover()
    except guard.LedgerHeldError as exc:
        held = exc
    assert held is not None
    rid = guard.acknowledge(ledger.store, held, by="ana", comment="policies reviewed",
                            at=NOW, policies=new.hash)
    ack = body(ledger.rows()[-1])
    assert ack["id"] == rid and ack["policies"] == new.hash
    engine = Engine(config, store=ledger.store, connectors=build_connectors(config))
    engine.recover()  # accepted: carries on from the stored chain
    engine.ingest([Event(key="later", type="service.down", entity="db",
                         time=T0 + timedelta(hours=9))])
    engine.settle(timeout=60)
    engine.close()
    assert not records(ledger, "policies")[1:]  # the acknowledgement is the change's record
    report = audit.verify(ledger.store, ledger.key.public_key(), policies=new)
    assert report.ok, report.first
    old = PolicySet.of(ledger.config.policies)
    assert audit.verify(ledger.store, ledger.key.public_key(), policies=old).first.startswith(
        "policies in force: ")


def test_a_chain_walked_to_its_end_records_every_step_and_the_expiry(
        starter: Config, tmp_path: Path) -> None:
    store = open_store(tmp_path / "chain.db")
    engine = Engine(starter, store=store, connectors=build_connectors(starter))
    engine.ingest([Event(key="e1", type="service.down", entity="api", time=T0),
                   Event(key="e2", type="service.down", entity="db",
                         time=T0 + timedelta(hours=3))])
    engine.settle(timeout=60)
    engine.close()
    (esc,) = store.escalations()
    assert esc.status == "expired" and len(esc.history) == 3
    rows = [(r.seq, body(r)) for r in store.ledger_rows()
            if body(r).get("record") == "escalation"]
    assert [b["change"] for _, b in rows] == ["paged", "paged", "paged", "expired"]
    assert [b["page"] for _, b in rows[:3]] == esc.history
    from baton.ledger import signing

    public = signing.load_or_create(tmp_path / "key.pem").public_key()
    assert audit.verify(store, public).ok
    history = [*esc.history[:1], dict(esc.history[1], candidates=["raj"]), esc.history[2]]
    with store.engine.begin() as conn:
        conn.execute(update(t.escalations).where(t.escalations.c.id == esc.id).values(
            body=esc.model_copy(update={"history": history}).model_dump_json()))
    first = audit.verify(store, public).first
    assert first.startswith(f"escalations {esc.id}: paging step 2 is ")
    assert f"but ledger row {rows[1][0]} records" in first
    store.close()


def test_a_page_written_after_the_ledger_was_read_is_no_finding(ledger: Ledger) -> None:
    """A live engine may page again between verify's read of the ledger and of the
    escalations table: the newer step is not reported as unrecorded."""
    from baton.ledger.checkpoints import sql_engine
    from baton.ledger.projections import Projections

    ((seq, _, _),) = records(ledger, "escalation")
    read = [(r.seq, r.record_id, body(r)) for r in ledger.rows() if r.seq < seq]
    found = Projections(ledger.store, sql_engine(ledger.store), read).run()
    assert not [f for f in found if f.table == "escalations"], found
    # the same history against the whole ledger minus that page is a finding
    rest = [(r.seq, r.record_id, body(r)) for r in ledger.rows() if r.seq != seq]
    found = Projections(ledger.store, sql_engine(ledger.store), rest).run()
    assert any(f.table == "escalations" and "has no ledger record" in f.problem
               for f in found), found
