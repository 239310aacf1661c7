"""Outside agents through the official MCP client over streamable HTTP, against a running
Baton: every answer comes from the engine's own decision, governance and ledger."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import MCPError

from agent_support import agent_server, mcp_client, propose
from web_support import Live


def propose_once(url: str, token: str, **fields: object) -> dict[str, object]:
    """One proposal over a fresh MCP session; the tool's answer."""
    async def run() -> dict[str, object]:
        async with mcp_client(url, token) as client:
            return await propose(client, **fields)
    return asyncio.run(run())

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def served(starter_dir: Path, tmp_path: Path) -> Iterator[tuple[Live, dict[str, str]]]:
    with agent_server(starter_dir, tmp_path / "baton.db") as found:
        yield found


def test_a_routine_action_is_executed(served: tuple[Live, dict[str, str]]) -> None:
    live, tokens = served
    answer = propose_once(live.url, tokens["copilot"], kind="restart", resource="worker",
                          rationale="worker queue stuck for 10 minutes")
    assert answer["status"] == "executed"
    assert answer["result"] == "executed"
    assert answer["policies"] == ["restart-below-tier0"]
    assert [r.action.kind for r in live.world.requests] == ["restart"]
    record = live.host.store.decision(str(answer["decision"]))
    assert record is not None and record["decided_by"] == "copilot"


def test_approval_is_pending_then_a_person_approves_and_the_agent_sees_it_executed(
        served: tuple[Live, dict[str, str]]) -> None:
    live, tokens = served

    async def ask() -> dict[str, object]:
        async with mcp_client(live.url, tokens["copilot"]) as client:
            first = await propose(client, kind="restart", resource="api", id="restart-api-1",
                                  rationale="api answers 502 on every request")
            mine = await client.call_tool("list_my_escalations", {})
            assert [e["proposal"] for e in mine.structured_content["items"]] == \
                ["restart-api-1"]
            return first

    pending = asyncio.run(ask())
    assert pending["status"] == "pending"
    escalation = pending["escalation"]
    assert isinstance(escalation, dict) and escalation["status"] == "open"
    assert escalation["candidates"] and escalation["deadline"]
    assert live.world.requests == []  # nothing ran before the person said yes
    person = escalation["candidates"][0]  # on call now (follow the sun: depends on the hour)
    token = live.auth.create_token(person)[1]
    with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {token}"},
                      timeout=30) as http:
        approved = http.post(f"/api/escalations/{escalation['id']}/approve",
                             json={"comment": "go"})
        assert approved.status_code == 200, approved.text
        again = http.post(f"/api/escalations/{escalation['id']}/approve", json={})
        assert again.status_code == 409  # answered already: never executed twice
    live.host.engine.settle(timeout=30)

    async def look() -> dict[str, object]:
        async with mcp_client(live.url, tokens["copilot"]) as client:
            result = await client.call_tool("get_proposal", {"id": "restart-api-1"})
            assert not result.is_error, result.content
            found: dict[str, object] = result.structured_content
            return found

    seen = asyncio.run(look())
    assert seen["status"] == "executed" and seen["result"] == "executed"
    assert f"approved by {person}" in str(seen["reason"])
    assert [(r.action.kind, r.action.resource) for r in live.world.requests] == \
        [("restart", "api")]


def test_a_forbidden_action_is_denied_naming_the_policy(
        served: tuple[Live, dict[str, str]]) -> None:
    live, tokens = served
    answer = propose_once(live.url, tokens["copilot"], kind="delete_data", resource="db",
                          rationale="free disk space")
    assert answer["status"] == "denied"
    assert answer["policies"] == ["never-delete-data"]
    assert answer["reason"] == "deleting data is never automated"
    assert live.world.requests == []


def test_two_agents_in_conflict_the_loser_is_told_who_won(
        served: tuple[Live, dict[str, str]]) -> None:
    live, tokens = served

    async def run() -> tuple[dict[str, object], dict[str, object]]:
        async with mcp_client(live.url, tokens["copilot"]) as a, \
                mcp_client(live.url, tokens["rival"]) as b:
            won = await propose(a, kind="scale_out", resource="worker", id="out-1",
                                rationale="queue depth doubled")
            lost = await propose(b, kind="scale_in", resource="worker", id="in-1", risk=10,
                                 rationale="worker pool idle at night")
            return won, lost

    won, lost = asyncio.run(run())
    assert won["status"] == "executed"
    assert lost["status"] == "conflicted"
    winner = lost["winner"]
    assert isinstance(winner, dict)
    assert winner["agent"] == "copilot" and winner["decision"] == won["decision"]
    assert "scale_out" in str(lost["reason"]) and "exclude each other" in str(lost["reason"])
    assert lost["escalation"] is not None  # a person may still override
    assert [r.action.kind for r in live.world.requests] == ["scale_out"]


def _flat(exc: BaseException) -> list[BaseException]:
    inner = getattr(exc, "exceptions", None)
    return [x for e in inner for x in _flat(e)] if inner else [exc]


def test_a_wrong_token_is_refused(served: tuple[Live, dict[str, str]]) -> None:
    live, _ = served
    wrong = ("baton_000000000000_not-a-real-secret", live.tokens["admin"], "")
    for token in wrong:
        async def run(token: str = token) -> None:
            async with mcp_client(live.url, token) as client:
                await client.list_tools()

        with pytest.raises(Exception) as caught:
            asyncio.run(run())
        assert any(isinstance(e, MCPError) for e in _flat(caught.value)), caught.value
        response = httpx2.post(f"{live.url}/mcp", json={"jsonrpc": "2.0", "id": 1,
                                                         "method": "tools/list"},
                               headers={"Authorization": f"Bearer {token}"} if token else {})
        assert response.status_code == (403 if token == live.tokens["admin"] else 401)
        assert "agent's token" in response.json()["error"]
    assert live.host.store.decisions(limit=5) == []  # a refused call changes nothing


def test_an_action_kind_outside_the_agents_list_is_denied(
        served: tuple[Live, dict[str, str]]) -> None:
    live, tokens = served
    answer = propose_once(live.url, tokens["rival"], kind="rollback", resource="worker",
                          rationale="bad deploy")
    assert answer["status"] == "denied"
    assert answer["policies"] == ["agent:rival:actions"]
    assert "rollback" in str(answer["reason"]) and "scale_in" in str(answer["reason"])
    assert live.world.requests == []


def test_the_agents_rate_limit_holds(served: tuple[Live, dict[str, str]]) -> None:
    live, tokens = served

    async def run() -> list[dict[str, object]]:
        async with mcp_client(live.url, tokens["copilot"]) as client:
            return [await propose(client, kind="scale_out", resource="db", id=f"s{i}",
                                  rationale="more capacity") for i in range(8)]

    answers = asyncio.run(run())
    assert [a["status"] for a in answers] == ["executed"] * 6 + ["denied"] * 2
    assert answers[6]["policies"] == ["agent:copilot:rate_limit"]
    assert "rate limit is 6" in str(answers[6]["reason"])
    assert len(live.world.requests) == 6


def test_a_policy_counts_the_agents_recent_actions(
        served: tuple[Live, dict[str, str]]) -> None:
    live, tokens = served

    async def run() -> list[dict[str, object]]:
        async with mcp_client(live.url, tokens["copilot"]) as client:
            return [await propose(client, kind="restart", resource="worker",
                                  rationale="flapping") for _ in range(4)]

    answers = asyncio.run(run())
    assert [a["status"] for a in answers] == ["executed"] * 3 + ["denied"]
    assert answers[3]["policies"] == ["agents-restart-3-per-hour"]
    record = live.host.store.decision(str(answers[3]["decision"]))
    assert record is not None and record["proposals"][0]["verdict"] == "denied"


def test_every_call_and_its_answer_are_ledger_records_naming_the_agent(
        served: tuple[Live, dict[str, str]]) -> None:
    live, tokens = served

    async def run() -> None:
        async with mcp_client(live.url, tokens["copilot"]) as client:
            picture = await client.call_tool("get_picture", {})
            assert picture.structured_content["may_propose"][0] == "restart"
            situations = await client.call_tool("list_situations", {})
            assert situations.structured_content == {"items": []}
            answer = await propose(client, kind="restart", resource="worker", rationale="x")
            why = await client.call_tool("explain_decision", {"id": answer["decision"]})
            assert why.structured_content["verdict"]["policy_ids"] == ["restart-below-tier0"]
            missing = await client.call_tool("get_proposal", {"id": "never-made"})
            assert missing.is_error and "no proposal 'never-made'" in str(missing.content)

    asyncio.run(run())
    mine = live.host.store.decisions(limit=50, filters={"decided_by": "copilot"})
    calls = sorted(r["entity"] for r in mine if r["situation_kind"] == "agent_call")
    assert calls == ["explain_decision", "get_picture", "list_situations"]
    assert all(len(r["context"]["answer_digest"]) == 64 for r in mine
               if r["situation_kind"] == "agent_call")
    assert [r["situation_kind"] for r in mine].count("agent.proposal") == 1
