"""The built-in LLM agent with pydantic-ai's FunctionModel and TestModel: deterministic,
no network. Its proposals pass the same governance as any outside agent's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pydantic_ai")

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models import Model
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel

from baton.agents.answers import answer
from baton.agents.llm import LlmAgent, LlmRunner, Thought
from baton.config import Config, load_config
from baton.model import Event
from baton.store import open_store
from baton.web.host import EngineHost
from helpers import RecordingWorld, engine_for

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LLM = """
agents:
  - id: sre-llm
    owner: ana
    domain: reliability
    kind: llm
    actions: [restart, scale_out, delete_data]
    llm: {base_url: "http://127.0.0.1:9/v1", model: test-model, deadline_s: 2}
"""
DETECTOR = ("situation: saturation, domain: reliability}",
            "situation: saturation, domain: reliability}\n"
            "  - {id: mem, kind: threshold, event: alert, metric: mem_util, above: 0.9,\n"
            "     situation: memory_pressure, domain: reliability}")


def llm_config(root: Path, *, autonomy: str | None = None,
               changes: tuple[tuple[str, str], ...] = ()) -> Config:
    """The starter with a detector no playbook covers and an LLM agent for it."""
    settings = (root / "baton.yaml").read_text(encoding="utf-8")
    assert DETECTOR[0] in settings
    (root / "baton.yaml").write_text(settings.replace(*DETECTOR), encoding="utf-8")
    text = LLM if autonomy is None else LLM.replace("kind: llm", f"kind: llm\n    autonomy: "
                                                                 f"{autonomy}")
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    with (root / "org.yaml").open("a", encoding="utf-8") as f:
        f.write(text)
    return load_config(root)


def proposing(kind: str, resource: str) -> FunctionModel:
    def answer_with(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, {
            "kind": kind, "resource": resource, "rationale": "memory leak: restart it",
            "risk": 10})])
    return FunctionModel(answer_with)


def run(config: Config, db: Path, model: Model | None,
        world: RecordingWorld | None = None) -> tuple[EngineHost, list[Thought]]:
    """One memory alert on `worker`, then one turn of the LLM agent with `model`."""
    host = EngineHost(engine_for(config, open_store(db), world), virtual_clock=True)
    host.submit([Event(key="mem-1", type="alert", entity="worker", time=T0,
                       attrs={"metric": "mem_util", "value": 0.97})])
    spec = config.org.agent["sre-llm"]
    agent = LlmAgent(spec, config.org) if model is None else \
        LlmAgent(spec, config.org, model=model, model_name="fn")
    runner = LlmRunner(host, [agent])
    return host, runner.step()


def _decision(host: EngineHost, thought: Thought) -> dict[str, Any]:
    found = answer(host.store, "sre-llm", str(thought.event.attrs["id"]))
    record = host.store.decision(str(found["decision"]))
    assert record is not None
    return {**found, "record": record}


def test_an_allowed_proposal_is_executed_and_recorded_with_model_and_digests(
        starter_dir: Path, tmp_path: Path) -> None:
    world = RecordingWorld()
    config = llm_config(starter_dir, autonomy="autonomous")
    host, thoughts = run(config, tmp_path / "b.db", proposing("restart", "worker"), world)
    assert [t.failure for t in thoughts] == [""]
    found = _decision(host, thoughts[0])
    assert found["status"] == "executed"
    ctx = found["record"]["context"]
    assert ctx["llm_model"] == "fn" and len(ctx["llm_prompt_digest"]) == 64
    assert '"kind":"restart"' in ctx["llm_response"] and len(ctx["llm_response_digest"]) == 64
    assert found["record"]["rationale"] == "memory leak: restart it"
    assert [(r.action.kind, r.action.resource) for r in world.requests] == [("restart", "worker")]


def test_an_llm_agent_defaults_to_approval(starter_dir: Path, tmp_path: Path) -> None:
    world = RecordingWorld()
    host, thoughts = run(llm_config(starter_dir), tmp_path / "b.db",
                         proposing("restart", "worker"), world)
    found = _decision(host, thoughts[0])
    assert found["status"] == "pending"
    assert found["record"]["verdict"]["capped_by"] == "autonomy:approve"
    assert found["escalation"] is not None and world.requests == []


def test_a_forbidden_proposal_is_denied_by_the_policy(starter_dir: Path,
                                                      tmp_path: Path) -> None:
    model = TestModel(custom_output_args={"kind": "delete_data", "resource": "db",
                                          "rationale": "free memory", "risk": 5})
    host, thoughts = run(llm_config(starter_dir, autonomy="autonomous"), tmp_path / "b.db",
                         model)
    found = _decision(host, thoughts[0])
    assert found["status"] == "denied" and found["policies"] == ["never-delete-data"]


@pytest.mark.parametrize(("model", "why"), [
    (proposing("format_disk", "worker"), "malformed model output"),
    (FunctionModel(lambda m, i: ModelResponse(parts=[TextPart("I would restart it")])),
     "malformed model output"),
    (proposing("restart", "no-such-service"), "Input should be 'worker' or 'db'"),
])
def test_malformed_output_is_refused_with_a_clear_reason_and_a_person_decides(
        starter_dir: Path, tmp_path: Path, model: FunctionModel, why: str) -> None:
    world = RecordingWorld()
    host, thoughts = run(llm_config(starter_dir, autonomy="autonomous"), tmp_path / "b.db",
                         model, world)
    assert why in thoughts[0].failure
    found = _decision(host, thoughts[0])
    assert found["status"] == "pending"  # escalated: nothing runs on a bad answer
    assert found["record"]["verdict"]["capped_by"] == "agent:no-proposal"
    assert why in found["record"]["verdict"]["reason"]
    assert world.requests == []


def test_no_answer_before_the_deadline_escalates(starter_dir: Path, tmp_path: Path) -> None:
    async def slow(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        await asyncio.sleep(30)
        raise AssertionError("the deadline should have stopped this run")

    host, thoughts = run(llm_config(starter_dir, autonomy="autonomous"), tmp_path / "b.db",
                         FunctionModel(slow))
    assert thoughts[0].failure == "no answer within its 2 s deadline"
    found = _decision(host, thoughts[0])
    assert found["status"] == "pending" and found["escalation"] is not None


def test_a_replay_gives_the_same_ledger_without_the_model(starter_dir: Path,
                                                          tmp_path: Path) -> None:
    config = llm_config(starter_dir, autonomy="autonomous")
    host, thoughts = run(config, tmp_path / "a.db", proposing("restart", "worker"))
    assert thoughts and not thoughts[0].failure
    head = host.store.ledger_head()
    events = [e for _, e in host.store.events(after=0, limit=10_000)]
    assert any(e.type == "agent.proposal" and e.attrs["llm"]["response"] for e in events)
    replayed = engine_for(config, open_store(tmp_path / "replay.db"))
    replayed.ingest(events)
    replayed.process_pending()
    assert replayed.store.ledger_head() == head


def test_the_runner_never_asks_twice_about_one_situation(starter_dir: Path,
                                                         tmp_path: Path) -> None:
    config = llm_config(starter_dir, autonomy="autonomous")
    host, first = run(config, tmp_path / "b.db", proposing("restart", "worker"))
    runner = LlmRunner(host, [LlmAgent(config.org.agent["sre-llm"], config.org,
                                       model=proposing("restart", "worker"))])
    again = runner.step()  # reads the whole ledger again from the start
    assert len(first) == 1 and again == []  # answered already: the model is not asked
    assert len(host.store.decisions(filters={"decided_by": "sre-llm"})) == 1
    second = first[0].event.model_copy(update={"time": first[0].event.time})
    assert host.submit([second]) == [False]  # the same key again is a duplicate
