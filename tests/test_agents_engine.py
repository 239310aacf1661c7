"""Outside agents inside the engine: limits, caps, kill switch, budget and determinism."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent_support import AGENTS, agent_config
from baton.agents.answers import answer
from baton.agents.service import ProposalBody, proposal_event
from baton.config import Config, load_config
from baton.engine.pipeline import Engine
from baton.errors import BatonError, InputError
from baton.model import Event
from baton.store import open_store
from helpers import RecordingWorld, engine_for

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _engine(config: Config, db: Path, world: RecordingWorld | None = None) -> Engine:
    return engine_for(config, open_store(db), world)


def _propose(engine: Engine, agent: str, minutes: float, **body: object) -> str:
    fields: dict[str, object] = {"rationale": "because", **body}
    event = proposal_event(engine, agent, ProposalBody.model_validate(fields),
                           at=T0 + timedelta(minutes=minutes))
    engine.ingest([event])
    engine.process_pending()
    return str(event.attrs["id"])


def _with(root: Path, old: str, new: str) -> Config:
    agent_config(root)
    text = (root / "org.yaml").read_text(encoding="utf-8")
    assert old in text
    (root / "org.yaml").write_text(text.replace(old, new), encoding="utf-8")
    return load_config(root)


def test_an_agent_capped_at_approve_never_acts_alone(starter_dir: Path, tmp_path: Path) -> None:
    config = _with(starter_dir, "rate_limit: {count: 6, minutes: 60}}",
                   "rate_limit: {count: 6, minutes: 60}, autonomy: approve}")
    world = RecordingWorld()
    engine = _engine(config, tmp_path / "b.db", world)
    pid = _propose(engine, "copilot", 0, kind="restart", resource="worker")
    found = answer(engine.store, "copilot", pid)
    assert found["status"] == "pending"
    record = engine.store.decision(str(found["decision"]))
    assert record is not None and record["verdict"]["capped_by"] == "autonomy:approve"
    assert world.requests == []


def test_the_kill_switch_of_one_agent_escalates_its_actions_only(starter_dir: Path,
                                                                  tmp_path: Path) -> None:
    world = RecordingWorld()
    engine = _engine(agent_config(starter_dir), tmp_path / "b.db", world)
    engine.ingest([Event(key="kill-1", type="baton.kill_switch", entity="agent:copilot",
                         time=T0, attrs={"enabled": True, "agent": "copilot", "by": "ana"})])
    engine.process_pending()
    stopped = _propose(engine, "copilot", 1, kind="restart", resource="worker")
    free = _propose(engine, "rival", 2, kind="restart", resource="db")
    found = answer(engine.store, "copilot", stopped)
    assert found["status"] == "pending"
    record = engine.store.decision(str(found["decision"]))
    assert record is not None and record["verdict"]["capped_by"] == "kill-switch:agent:copilot"
    assert answer(engine.store, "rival", free)["status"] == "executed"
    assert [r.action.resource for r in world.requests] == ["db"]
    kills = engine.store.decisions(filters={"situation_kind": "kill_switch"})
    assert kills[0]["outcome"] == "kill switch on (agent copilot)"


def test_an_agents_budget_caps_what_it_spends_in_a_day(starter_dir: Path,
                                                       tmp_path: Path) -> None:
    config = _with(starter_dir, "rate_limit: {count: 6, minutes: 60}}",
                   "rate_limit: {count: 6, minutes: 60}, budget: 10}")
    engine = _engine(config, tmp_path / "b.db")
    first = _propose(engine, "copilot", 0, kind="scale_out", resource="db", amount=8)
    second = _propose(engine, "copilot", 1, kind="scale_out", resource="db", amount=8)
    assert answer(engine.store, "copilot", first)["status"] == "executed"
    capped = answer(engine.store, "copilot", second)
    assert capped["status"] == "pending"
    assert "exceeds the 2 left today of copilot's budget" in str(capped["reason"])
    next_day = _propose(engine, "copilot", 24 * 60, kind="scale_out", resource="db", amount=8)
    assert answer(engine.store, "copilot", next_day)["status"] == "executed"


def test_the_same_proposals_give_the_same_ledger(starter_dir: Path, tmp_path: Path) -> None:
    config = agent_config(starter_dir)
    heads = []
    for name in ("a.db", "b.db"):
        engine = _engine(config, tmp_path / name)
        for i, (agent, kind, resource) in enumerate([
                ("copilot", "scale_out", "worker"), ("rival", "scale_in", "worker"),
                ("copilot", "restart", "api"), ("rival", "rollback", "db"),
                ("copilot", "delete_data", "db")]):
            _propose(engine, agent, i, kind=kind, resource=resource, id=f"p{i}")
        heads.append(engine.store.ledger_head())
        engine.store.close()
    assert heads[0] == heads[1] and heads[0][0] >= 5


def test_a_proposal_sent_twice_is_decided_once(starter_dir: Path, tmp_path: Path) -> None:
    world = RecordingWorld()
    engine = _engine(agent_config(starter_dir), tmp_path / "b.db", world)
    _propose(engine, "copilot", 0, kind="restart", resource="worker", id="once")
    _propose(engine, "copilot", 1, kind="restart", resource="worker", id="once")
    assert len(world.requests) == 1
    assert len(engine.store.decisions(filters={"decided_by": "copilot"})) == 1


def test_a_proposal_for_an_unknown_service_is_refused_before_anything_is_written(
        starter_dir: Path, tmp_path: Path) -> None:
    engine = _engine(agent_config(starter_dir), tmp_path / "b.db")
    with pytest.raises(InputError, match="'nope' is not a service"):
        _propose(engine, "copilot", 0, kind="restart", resource="nope")
    assert engine.store.counts()["events"] == 0


@pytest.mark.parametrize(("agents", "message"), [
    ("agents:\n  - {id: x, owner: nobody, domain: reliability, actions: [restart]}\n",
     "unknown person 'nobody'"),
    ("agents:\n  - {id: x, owner: ana, domain: moon, actions: [restart]}\n",
     "unknown domain 'moon'"),
    ("agents:\n  - {id: x, owner: ana, domain: reliability, actions: []}\n",
     "at least 1 item"),
    ("agents:\n  - {id: x, owner: ana, domain: reliability, kind: llm, actions: [restart]}\n",
     "give its llm endpoint"),
    ("agents:\n  - {id: X Y, owner: ana, domain: reliability, actions: [restart]}\n",
     "should match pattern"),
])
def test_a_bad_agent_declaration_names_the_file_and_field(starter_dir: Path, agents: str,
                                                          message: str) -> None:
    with (starter_dir / "org.yaml").open("a", encoding="utf-8") as f:
        f.write(agents)
    with pytest.raises(BatonError) as caught:
        load_config(starter_dir)
    text = str(caught.value)
    assert message in text and "org.yaml" in text and "agents" in text


def test_llm_agents_default_to_approve() -> None:
    from baton.org.agents import AgentPrincipal

    spec = AgentPrincipal.model_validate({
        "id": "llm", "owner": "ana", "domain": "reliability", "kind": "llm",
        "actions": ["restart"], "llm": {"base_url": "http://x/v1", "model": "m"}})
    assert spec.cap == "approve"
    assert AGENTS  # the shared declaration keeps both outside agents
