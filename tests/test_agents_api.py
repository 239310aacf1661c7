"""The agent API over real HTTP, `baton token create --agent` and `baton mcp` over stdio."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from mcp import Client, StdioServerParameters

from agent_support import agent_config, agent_server
from baton.config import load_config
from baton.store import Step, open_store
from web_support import Live

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def served(starter_dir: Path, tmp_path: Path) -> Iterator[tuple[Live, dict[str, str]]]:
    with agent_server(starter_dir, tmp_path / "baton.db") as found:
        yield found


def _agent(live: Live, token: str) -> httpx.Client:
    return httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {token}"},
                        timeout=30)


def test_a_proposal_over_the_api_is_executed_and_can_be_read_back(
        served: tuple[Live, dict[str, str]]) -> None:
    live, tokens = served
    with _agent(live, tokens["copilot"]) as http:
        posted = http.post("/api/proposals", json={
            "kind": "restart", "resource": "worker", "rationale": "stuck queue",
            "evidence": {"queue_depth": 9000}, "id": "r-1"})
        assert posted.status_code == 200, posted.text
        assert posted.json()["status"] == "executed"
        again = http.post("/api/proposals", json={
            "kind": "restart", "resource": "worker", "rationale": "stuck queue", "id": "r-1"})
        assert again.json()["decision"] == posted.json()["decision"]
        read = http.get("/api/proposals/r-1")
        assert read.status_code == 200 and read.json()["status"] == "executed"
        assert http.get("/api/proposals/unknown").status_code == 404
    assert len(live.world.requests) == 1  # sent twice, carried out once
    record = live.host.store.decision(posted.json()["decision"])
    assert record is not None and record["proposals"][0]["id"] == "copilot/r-1/0"


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"kind": "restart", "resource": "nope", "rationale": "x"}, 422, "'nope' is not a service"),
    ({"kind": "restart", "resource": "worker"}, 422, "rationale"),
    ({"kind": "restart", "resource": "worker", "rationale": "x", "risk": 900}, 422, "risk"),
    ({"kind": "restart", "resource": "worker", "rationale": "x", "sneaky": 1}, 422, "sneaky"),
    ({"kind": "Restart Now", "resource": "worker", "rationale": "x"}, 422, "kind"),
])
def test_bad_proposals_are_refused_naming_the_field_and_change_nothing(
        served: tuple[Live, dict[str, str]], body: dict[str, object], status: int,
        message: str) -> None:
    live, tokens = served
    with _agent(live, tokens["copilot"]) as http:
        response = http.post("/api/proposals", json=body)
    assert response.status_code == status, response.text
    assert message in response.text
    assert live.host.store.counts()["events"] == 0


def test_only_an_agents_token_may_propose(served: tuple[Live, dict[str, str]]) -> None:
    live, _ = served
    body = {"kind": "restart", "resource": "worker", "rationale": "x"}
    for access in (None, "viewer", "admin"):
        with live.client(access) as http:
            response = http.post("/api/proposals", json=body)
        assert response.status_code == (401 if access is None else 403)
        assert "agent's token" in response.json()["error"]
    assert live.host.store.counts()["events"] == 0


def test_a_person_cannot_post_an_agents_proposal_as_an_event(
        served: tuple[Live, dict[str, str]]) -> None:
    live, _ = served
    at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    event = {"specversion": "1.0", "id": "spoof", "source": "test", "type": "agent.proposal",
             "subject": "worker", "time": at,
             "data": {"agent": "copilot", "id": "x", "kind": "restart", "resource": "worker"}}
    with live.client("operator") as http:
        response = http.post("/api/events", json=event)
    assert response.status_code == 422
    assert "comes from outside agents only" in response.text
    assert live.world.requests == []


def agent_db(starter_dir: Path, tmp_path: Path) -> Path:
    """A database remembering the agents' configuration, as `baton serve` leaves one."""
    agent_config(starter_dir)
    db = tmp_path / "baton.db"
    store = open_store(db)
    store.commit(Step(settings={"config": str(starter_dir), "clock": "wall"}))
    store.close()
    return db


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "baton.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120, check=False)


def test_token_create_for_an_agent_and_mcp_over_stdio(starter_dir: Path,
                                                      tmp_path: Path) -> None:
    db = agent_db(starter_dir, tmp_path)
    made = _cli("token", "create", "--agent", "copilot", "--db", db)
    assert made.returncode == 0, made.stderr
    assert "agent token" in made.stdout and "baton_" in made.stdout
    unknown = _cli("token", "create", "--agent", "ghost", "--db", db)
    assert unknown.returncode == 2 and "'ghost' is not an agent" in unknown.stderr
    both = _cli("token", "create", "--agent", "copilot", "--user", "ana", "--db", db)
    assert both.returncode == 2 and "one of them" in both.stderr

    async def run() -> dict[str, object]:
        params = StdioServerParameters(command=sys.executable, args=[
            "-m", "baton.cli", "mcp", "--agent", "copilot", "--db", str(db)])
        async with Client(params) as client:
            result = await client.call_tool("propose_action", {
                "kind": "restart", "resource": "worker", "rationale": "stuck"})
            assert not result.is_error, result.content
            found: dict[str, object] = result.structured_content
            return found

    answer = asyncio.run(run())
    assert answer["status"] == "executed" and answer["agent"] == "copilot"
    listed = _cli("agents", "list", "--db", db)
    assert listed.returncode == 0, listed.stderr
    assert "copilot" in listed.stdout and "executed    1" in listed.stdout


def test_the_example_script_drives_an_agent_with_the_mcp_client(
        served: tuple[Live, dict[str, str]]) -> None:
    live, tokens = served
    script = Path(__file__).resolve().parents[1] / "examples" / "sre_copilot.py"
    done = subprocess.run([sys.executable, str(script), "--url", f"{live.url}/mcp",
                           "--token", tokens["copilot"], "--service", "worker"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"status": "executed"' in done.stdout and "propose_action" in done.stdout
    assert [r.action.resource for r in live.world.requests] == ["worker"]
    refused = subprocess.run([sys.executable, str(script), "--url", f"{live.url}/mcp",
                              "--token", tokens["copilot"], "--service", "nope"],
                             capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 1 and "'nope' is not a service" in refused.stdout


def test_the_demo_says_where_agents_connect_with_a_working_token(tmp_path: Path) -> None:
    from rich.console import Console

    from baton.agents.tokens import agent_of_token
    from baton.auth.service import Auth
    from baton.auth.tables import AuthStore
    from baton.scenarios import itops
    from baton.web.server import agents_banner

    config = load_config(Path(itops.__file__).parent)
    store = open_store(tmp_path / "demo.db")
    try:
        auth = Auth(AuthStore(store.engine), config.org)
        console = Console(record=True, width=300)
        agents_banner(console, auth, config.org, port=8123, db="demo.db")
        text = console.export_text()
        assert "http://127.0.0.1:8123/mcp" in text and "sre-copilot" in text
        token = next(w for w in text.split() if w.startswith("baton_"))
        assert agent_of_token(auth, token, config.org) == "sre-copilot"
    finally:
        store.close()


def test_the_agents_page_lists_each_agent_with_its_track_record(
        served: tuple[Live, dict[str, str]]) -> None:
    live, tokens = served
    with _agent(live, tokens["copilot"]) as http:
        for body in ({"kind": "restart", "resource": "worker", "rationale": "stuck"},
                     {"kind": "delete_data", "resource": "db", "rationale": "disk full"}):
            assert http.post("/api/proposals", json=body).status_code == 200
    with live.client("viewer") as http:
        page = http.get("/agents")
    assert page.status_code == 200
    html = page.text
    assert 'id="agent-copilot"' in html and 'id="agent-rival"' in html
    copilot = html[html.index('id="agent-copilot"'):html.index('id="agent-rival"')]
    assert "<td>2</td><td>1</td><td>0</td><td>1</td><td>0</td><td>0</td>" in copilot
    assert "100%" in copilot and "deleting data" not in copilot  # outcomes, not reasons
    assert ">denied<" in copilot and ">executed<" in copilot
    with live.client(None) as http:
        assert http.get("/agents").status_code in (302, 303, 401)


def test_the_kill_switch_of_an_agent_from_the_command_line(starter_dir: Path,
                                                           tmp_path: Path) -> None:
    db = agent_db(starter_dir, tmp_path)
    ghost = _cli("agents", "kill", "ghost", "--by", "ana", "--db", db)
    assert ghost.returncode == 2 and "'ghost' is not an agent" in ghost.stderr
    nobody = _cli("agents", "kill", "copilot", "--by", "nobody", "--db", db)
    assert nobody.returncode == 2 and "'nobody' is not a person" in nobody.stderr
    done = _cli("agents", "kill", "copilot", "--by", "ana", "--db", db)
    assert done.returncode == 0, done.stderr
    store = open_store(db, create=False)
    try:
        kills = store.decisions(filters={"situation_kind": "kill_switch"})
        assert [k["outcome"] for k in kills] == ["kill switch on (agent copilot)"]
        assert kills[0]["decided_by"] == "ana"
    finally:
        store.close()
