"""`audit verify` finds each of the 13 edits an insider with database access could make,
and names the first bad row (a signed checkpoint taken first where the edit needs one)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, update

from audit_support import Ledger, body, build
from baton.config import Config
from baton.ledger.chain import canonical, link
from baton.store import schema as t


@pytest.fixture
def ledger(starter: Config, store_url: str, tmp_path: Path) -> Iterator[Ledger]:
    yield from build(starter, store_url, tmp_path)


def decision_row(ledger: Ledger, kind: str) -> tuple[int, str, dict[str, Any]]:
    """The first ledger decision record of a situation kind: (seq, id, body)."""
    for row in ledger.rows():
        b = body(row)
        if b.get("record") == "decision" and b.get("situation_kind") == kind:
            return row.seq, row.record_id, b
    raise AssertionError(kind)


def test_an_untouched_ledger_verifies_with_every_projection_and_the_replay(
        ledger: Ledger) -> None:
    ledger.checkpoint()
    report = ledger.verify()
    assert report.ok, report.first
    assert report.covered["decisions"] == 11 and report.covered["escalations"] == 1
    assert report.covered["executions"] == 4 and report.covered["replayed"] == 1
    assert report.covered["checkpoints"] == 2  # the stored one and its witness copy


def test_1_a_body_edited_without_its_hash_is_named(ledger: Ledger) -> None:
    seq, rid, b = decision_row(ledger, "saturation")
    ledger.set_row(seq, body=canonical({**b, "outcome": "denied"}))
    report = ledger.verify()
    assert report.first == f"row {seq} ({rid}): content does not match its hash (row edited)"


def test_2_an_edited_hash_is_named(ledger: Ledger) -> None:
    ledger.set_row(4, hash="f" * 64)
    report = ledger.verify()
    assert report.first.startswith("row 4 (") and "does not match its hash" in report.first


def test_3_a_deleted_middle_row_is_named_at_the_row_after_it(ledger: Ledger) -> None:
    ledger.execute(delete(t.ledger).where(t.ledger.c.seq == 7))
    report = ledger.verify()
    assert report.first.startswith("row 8 (") and "sequence gap" in report.first


def test_4_a_verdict_edited_in_the_decisions_table_is_named(ledger: Ledger) -> None:
    seq, rid, _ = decision_row(ledger, "service_down")
    ledger.execute(update(t.decisions).where(t.decisions.c.id == rid).values(verdict="autonomous"))
    report = ledger.verify()
    assert report.first == (f"decisions {rid}: verdict is 'autonomous' but ledger row {seq} "
                            "records 'approval'")


def test_5_an_edited_record_id_is_named(ledger: Ledger) -> None:
    seq, rid, _ = decision_row(ledger, "saturation")
    ledger.set_row(seq, record_id="D-0000000000000000")
    report = ledger.verify()
    assert report.first == (f"row {seq} (D-0000000000000000): record_id differs from the id "
                            f"its body holds ({rid})")


def test_6_the_rows_after_the_fifth_deleted_contradict_the_checkpoint_signed_before(
        ledger: Ledger) -> None:
    ledger.checkpoint()
    ledger.execute(delete(t.ledger).where(t.ledger.c.seq > 5))
    report = ledger.verify()
    assert report.first.startswith("checkpoint stored checkpoint 1: signed at ")
    assert "over 20 rows, but the ledger holds 5: rows 6..20 were removed" in report.first
    assert any(f.table == "checkpoint" and f.row.startswith("witness file")
               for f in report.findings)


def test_7_a_full_rewrite_with_recomputed_hashes_contradicts_the_checkpoint(
        ledger: Ledger) -> None:
    ledger.checkpoint()
    rows = ledger.rows()
    seq, rid, b = decision_row(ledger, "service_down")
    verdict = dict(b["verdict"])
    rows[seq - 1] = type(rows[0])(seq, rid, canonical({**b, "verdict": {
        **verdict, "kind": "autonomous"}}), "", "")
    ledger.rechain(rows)
    report = ledger.verify()
    assert report.first.startswith("checkpoint stored checkpoint 1: signed at ")
    assert "rows 1..20 no longer hash to its root" in report.first
    problems = [str(f) for f in report.findings]
    assert (f"decisions {rid}: verdict is 'approval' but ledger row {seq} records "
            "'autonomous'") in problems


def test_8_a_row_deleted_and_the_rest_renumbered_is_named(ledger: Ledger) -> None:
    rows = ledger.rows()
    i = next(i for i, r in enumerate(rows) if body(r).get("situation_kind") == "assignment")
    gone = rows.pop(i)  # an assignment decision
    ledger.rechain(rows)
    report = ledger.verify()
    assert report.first == (f"decisions {gone.record_id}: no ledger record has this id (row "
                            f"{i + 1} of the ledger has another, or none)")
    after = next(j for j in range(i, len(rows)) if body(rows[j]).get("record") == "decision")
    assert (f"decisions {rows[after].record_id}: seq is {after + 2} but ledger row {after + 1} "
            f"records {after + 1}") in [str(f) for f in report.findings]


def test_9_swapped_rows_rechained_are_named(ledger: Ledger) -> None:
    rows = ledger.rows()
    # two neighbouring decision records (outcome records have no table row to contradict)
    i = next(i for i in range(len(rows) - 1)
             if all(json.loads(r.body)["record"] == "decision" for r in rows[i:i + 2]))
    rows[i], rows[i + 1] = rows[i + 1], rows[i]
    ledger.rechain(rows)
    report = ledger.verify()
    assert report.first == (f"decisions {rows[i + 1].record_id}: seq is {i + 1} but ledger "
                            f"row {i + 2} records {i + 2}")


def test_10_an_edited_escalation_is_named(ledger: Ledger) -> None:
    (esc,) = ledger.store.escalations()
    changed = esc.model_copy(update={"resolved_by": "raj"})
    ledger.execute(update(t.escalations).where(t.escalations.c.id == esc.id)
                   .values(body=changed.model_dump_json()))
    report = ledger.verify()
    assert report.first == (f"escalations {esc.id}: status approved by 'raj', but the ledger "
                            "records no such answer")


def test_11_an_edited_execution_is_named(ledger: Ledger) -> None:
    _seq, rid, _ = decision_row(ledger, "saturation")
    key = f"{rid}:scale_out:worker"
    ledger.execute(update(t.executions).where(t.executions.c.key == key)
                   .values(status="failed"))
    report = ledger.verify()
    assert report.first.startswith(f"executions {key}: status is 'failed' but result record R-")
    assert report.first.endswith("records 'done'")


def test_12_an_edited_event_is_named_with_the_row_that_bound_it(ledger: Ledger) -> None:
    seq, rid, _ = decision_row(ledger, "saturation")
    stored = json.loads(ledger.store.events(types=("alert",))[0][1].to_json())
    stored["attrs"]["value"] = 0.5
    ledger.execute(update(t.events).where(t.events.c.key == "e3")
                   .values(body=json.dumps(stored)))
    report = ledger.verify()
    assert report.first.startswith(f"events e3: its content no longer matches the digest "
                                   f"ledger row {seq} ({rid}) bound")


def test_13_a_forged_append_covered_by_the_next_checkpoint_is_named(ledger: Ledger) -> None:
    first = ledger.checkpoint()
    rows = ledger.rows()
    _seq, _rid, b = decision_row(ledger, "saturation")
    forged_id = "D-" + "a" * 16
    forged = canonical({**b, "id": forged_id, "outcome": "executed twice"})
    last = rows[-1]
    ledger.execute(insert(t.ledger), [{"seq": last.seq + 1, "record_id": forged_id,
                                       "body": forged, "prev_hash": last.hash,
                                       "hash": link(last.hash, forged)}])
    ledger.execute(insert(t.decisions), [{
        "id": forged_id, "seq": last.seq + 1, "time": str(b["time"]).replace("Z", "+00:00"),
        "domain": b["domain"], "entity": b["entity"], "situation_kind": "saturation",
        "verdict": "autonomous", "outcome": "executed twice", "decided_by": b["decided_by"],
        "engine_ms": 1.0}])
    second = ledger.checkpoint()  # the checkpointer signs what it finds
    assert (first.size, second.size) == (20, 21)
    report = ledger.verify()
    assert [str(f) for f in report.findings] == [
        "replay: replaying the log gives ledger row 20 with head "
        f"{last.hash[:16]}, but the store holds row 21 with head "
        f"{link(last.hash, forged)[:16]}: rows 21..21 are not what the log gives "
        "(appended by hand?), or the configuration changed since"]
