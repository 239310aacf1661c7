"""A compliance situation says what was broken in words a person reads, and the demo's
access-violation rationale uses it (no "(approved: True)")."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from baton.config import ComplianceDetector
from baton.engine.monitor import breach
from baton.sim.demo import DEMO_START, DemoRun


def detector() -> ComplianceDetector:
    return ComplianceDetector(id="grant", kind="compliance", event="access.grant",
                              situation="access_violation", domain="security",
                              require={"approved": True}, allowed={"level": ["read", "write"]})


def test_each_broken_rule_is_a_sentence_part() -> None:
    det = detector()
    assert breach(det, {"approved": False, "level": "read"}) == "it was not approved"
    assert breach(det, {"approved": True, "level": "admin"}) == (
        "level admin is not allowed (only read or write)")
    assert breach(det, {"level": "admin"}) == (
        "it was not approved and level admin is not allowed (only read or write)")
    assert breach(det, {"approved": True}) == "level is missing (only read or write)"
    other = ComplianceDetector(id="x", kind="compliance", event="e", situation="s",
                               domain="security", require={"region": "eu", "flag": False})
    assert breach(other, {"region": "us", "flag": True}) == "region is us, not eu and it was flag"


def test_the_demo_access_violation_rationale_reads_naturally(tmp_path: Path) -> None:
    run = DemoRun(db=tmp_path / "demo.db", seed=7)
    try:
        run.step(DEMO_START + timedelta(hours=2))
        texts = [d["rationale"] for d in run.store.decisions(limit=500)
                 if d.get("situation_kind") == "access_violation"]
    finally:
        run.store.close()
    assert texts
    for text in texts:
        assert " access outside policy: " in text, text
        assert "(approved" not in text and "True" not in text and "False" not in text, text
