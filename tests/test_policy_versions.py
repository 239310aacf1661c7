"""Policy versions: live from a recorded point in the log, the same there in replay and
recovery, approved by a second person, rolled back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from backtest_support import RESTARTS_NEED_APPROVAL, live_db, policies_with
from baton.app import open_engine
from baton.cli import app
from baton.config import Config
from baton.engine.pipeline import Engine
from baton.governance.versions import pack, policy_hash, proposal_id, read_policy_dir
from baton.model import Event
from baton.org.model import Organisation
from baton.store import open_store
from conftest import T0
from helpers import engine_for, ev
from ladder_support import engine_on, feed, records


def policy_event(key: str, minutes: float, op: str, by: str, **attrs: Any) -> Event:
    return ev(key, "baton.policy", str(attrs.get("id", op)), T0, minutes, op=op, by=by,
              **attrs)


def outages(start: float, n: int) -> list[Event]:
    out = []
    for i in range(n):
        at = start + 60 * i
        out += [ev(f"d{at}", "service.down", "db", T0, at),
                ev(f"r{at}", "service.recovered", "db", T0, at + 5)]
    return out


def change_log(starter_dir: Path, tmp_path: Path) -> tuple[list[Event], str, str]:
    files = read_policy_dir(policies_with(starter_dir, tmp_path, *RESTARTS_NEED_APPROVAL))
    digest = policy_hash(files)
    pid = proposal_id(digest, "ana")
    events = [*outages(0, 2),
              policy_event("prop", 150, "propose", "ana", id=pid, files=pack(files)),
              policy_event("self", 151, "approve", "ana", id=pid),  # refused: own proposal
              *outages(160, 1),
              policy_event("ok", 230, "approve", "sue", id=pid),
              *outages(240, 2)]
    return events, pid, digest


@pytest.fixture
def starter(starter: Config) -> Config:
    """The starter organisation with a second admin (sue), for two-admin changes."""
    data = starter.org.model_dump()
    data["people"] = [dict(p, access="admin") if p["id"] == "sue" else p
                      for p in data["people"]]
    return starter.model_copy(update={"org": Organisation.model_validate(data)})


def restarts(engine: Engine) -> list[tuple[str, str]]:
    return [(d["outcome"], d["policy_set"][:12]) for d in records(engine.store, "decision")
            if d["situation_kind"] == "service_down"]


def test_a_version_goes_live_at_its_point_in_the_log_and_replay_gives_the_same_head(
        starter: Config, starter_dir: Path, tmp_path: Path) -> None:
    events, pid, digest = change_log(starter_dir, tmp_path)
    live = feed(engine_on(starter, tmp_path / "v.db"), events)
    base = policy_hash(starter.policies)[:12]
    assert restarts(live) == [("dispatched", base)] * 3 + [("escalated", digest[:12])] * 2
    outcomes = [d["outcome"] for d in records(live.store, "decision")
                if d["situation_kind"] == "policy"]
    assert outcomes == ["policy proposed", "policy approve refused", "policy live"]
    refused = next(d for d in records(live.store, "decision") if d["event"] == "self")
    assert "ana proposed" in refused["rationale"]
    assert live.policies.status()["live"] == [pid]

    replayed = engine_on(starter, tmp_path / "v.db")  # the whole log, no snapshot
    replayed.recover(resume=False)
    assert (replayed.ledger.seq, replayed.ledger.head) == (live.ledger.seq, live.ledger.head)
    assert replayed.policies.active == digest and replayed.book is not replayed.base_book


def test_recovery_from_a_snapshot_taken_after_the_change_keeps_the_live_version(
        starter: Config, starter_dir: Path, tmp_path: Path) -> None:
    events, _, digest = change_log(starter_dir, tmp_path)
    cut = next(i for i, e in enumerate(events) if e.key == "ok") + 1
    live = feed(engine_on(starter, tmp_path / "v.db"), events[:cut])
    assert live.snapshot()
    restarted = engine_on(starter, tmp_path / "v.db")
    restarted.recover(resume=False)
    assert restarted.recovery["snapshot_at"] and restarted.policies.active == digest
    feed(restarted, events[cut:])
    reference = feed(engine_on(starter, tmp_path / "ref.db"), events)
    assert (restarted.ledger.seq, restarted.ledger.head) == (reference.ledger.seq,
                                                             reference.ledger.head)
    assert restarts(restarted)[-1] == ("escalated", digest[:12])


def test_rollback_returns_to_the_previous_set_from_the_next_event(
        starter: Config, starter_dir: Path, tmp_path: Path) -> None:
    events, _, _ = change_log(starter_dir, tmp_path)
    engine = feed(engine_on(starter, tmp_path / "v.db"), [
        *events, policy_event("back", 400, "rollback", "ana"), *outages(410, 1)])
    assert engine.policies.active == policy_hash(starter.policies)
    assert restarts(engine)[-1] == ("dispatched", policy_hash(starter.policies)[:12])


@pytest.mark.parametrize("attrs,problem", [
    ({"op": "propose", "by": "raj", "files": "nope"}, "files must be a non-empty list"),
    ({"op": "propose", "by": "raj", "files": [["x.cedar", "permit (principal, action, "
                                               "resource);"]]}, "x.cedar:1"),
    ({"op": "approve", "by": "ana", "id": "PS-none"}, "no policy proposal 'PS-none'"),
    ({"op": "approve", "by": "raj", "id": "PS-none"}, "raj is not an admin"),
    ({"op": "rollback", "by": "ana"}, "nothing to roll back"),
    ({"op": "burn", "by": "ana"}, "unknown op 'burn'"),
    ({"op": "propose", "by": "mallory"}, "'mallory' is not a person"),
])
def test_a_bad_policy_event_is_refused_by_name_and_changes_nothing(
        starter: Config, tmp_path: Path, attrs: dict[str, Any], problem: str) -> None:
    engine = feed(engine_on(starter, tmp_path / "v.db"),
                  [ev("bad", "baton.policy", "x", T0, **attrs), *outages(1, 1)])
    (record,) = [d for d in records(engine.store, "decision") if d["situation_kind"] == "policy"]
    assert record["outcome"].endswith("refused") and problem in record["rationale"]
    assert engine.policies.active == policy_hash(starter.policies)
    assert restarts(engine) == [("dispatched", policy_hash(starter.policies)[:12])]


def test_propose_and_approve_from_the_cli_need_two_people(
        starter: Config, starter_dir: Path, tmp_path: Path) -> None:
    db = live_db(starter, tmp_path / "live.db")
    candidate = policies_with(starter_dir, tmp_path, *RESTARTS_NEED_APPROVAL)

    def cli(*args: str) -> tuple[int, str]:
        r = CliRunner().invoke(app, [*args, "--db", str(db)])
        return r.exit_code, " ".join(r.output.split())

    code, text = cli("policy", "propose", str(candidate), "--by", "raj")
    assert code == 0 and "1 flips" in text, text
    (p,) = open_engine(str(db)).policies.status()["proposals"]
    assert p["backtest"]["flip_count"] == 1 and p["status"] == "proposed"
    code, text = cli("policy", "approve", p["id"], "--by", "raj")
    assert code == 2 and "raj is not an admin" in text, text
    code, text = cli("policy", "approve", "PS-nothing", "--by", "ana")
    assert code == 2 and "no policy proposal" in text, text
    code, text = cli("policy", "approve", p["id"], "--by", "ana")
    assert code == 0 and "policy live" in text, text
    code, text = cli("policy", "list")
    assert code == 0 and p["id"] in text and "live" in text
    code, text = cli("policy", "rollback", "--by", "ana")
    assert code == 0 and "policy rolled back" in text, text
    code, text = cli("policy", "rollback", "--by", "ana")
    assert code == 2 and "nothing to roll back" in text, text
    # the audit's replay of the whole log switches versions where the log did
    code, text = cli("audit", "verify")
    assert code == 0 and "ledger intact" in text, text


def test_replay_across_a_version_change_gives_the_live_head_on_every_backend(
        starter: Config, starter_dir: Path, tmp_path: Path, store_url: str) -> None:
    events, _, digest = change_log(starter_dir, tmp_path)
    live = feed(engine_for(starter, open_store(store_url)), events)
    replayed = engine_for(starter, open_store(store_url))
    replayed.recover(resume=False)
    assert (replayed.ledger.seq, replayed.ledger.head) == (live.ledger.seq, live.ledger.head)
    assert replayed.policies.active == digest
    live.store.close()
    replayed.store.close()
