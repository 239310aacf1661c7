"""Drive Baton's `sre-copilot` agent with the official MCP client (streamable HTTP).

Start the demo (`baton demo`), which prints the MCP endpoint and a token for
sre-copilot, then:

    python examples/sre_copilot.py --url http://127.0.0.1:8000/mcp --token baton_...

The script looks at the shared picture, proposes a restart of the first service of its
domain that is not up (or of --service), and follows the proposal until it is decided:
executed, pending a person's approval, denied by a policy, or lost to another agent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


def _show(title: str, value: Any) -> None:
    print(f"== {title}")
    print(json.dumps(value, indent=2, sort_keys=True))


async def drive(url: str, token: str, service: str | None, kind: str, wait_s: float) -> int:
    """One proposal from start to end; 0 when it was executed, 1 otherwise."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http, \
            Client(streamable_http_client(url, http_client=http)) as client:
        tools = await client.list_tools()
        print("tools:", ", ".join(t.name for t in tools.tools))
        picture = (await client.call_tool("get_picture", {})).structured_content
        _show("picture", picture)
        down = [s["id"] for s in picture["services"]["not_up"]]
        target = service or (down[0] if down else None)
        if target is None:
            print("every service of the domain is up: nothing to propose (pass --service)")
            return 0
        result = await client.call_tool("propose_action", {
            "kind": kind, "resource": target,
            "rationale": f"{target} is not up; a {kind} is the usual first step",
            "evidence": {"not_up": down}})
        if result.is_error:
            print("refused:", result.content)
            return 1
        answer = result.structured_content
        _show("answer", answer)
        waited = 0.0
        while answer["status"] == "pending" and waited < wait_s:
            await asyncio.sleep(2.0)
            waited += 2.0
            answer = (await client.call_tool("get_proposal",
                                             {"id": answer["proposal"]})).structured_content
        if answer["status"] == "pending":
            esc = answer["escalation"] or {}
            print(f"still pending: escalation {esc.get('id')} waits for "
                  f"{', '.join(esc.get('candidates') or ['a person'])} (sign in to the "
                  "dashboard's inbox to answer it)")
        else:
            _show("decided", answer)
        why = (await client.call_tool("explain_decision",
                                      {"id": answer["decision"]})).structured_content
        _show("why", {k: why[k] for k in ("verdict", "outcome", "rationale")})
        return 0 if answer["status"] == "executed" else 1


def main() -> int:
    """Parse the arguments and drive the agent once."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/mcp")
    parser.add_argument("--token", default=os.environ.get("BATON_AGENT_TOKEN", ""),
                        help="the agent's token (or $BATON_AGENT_TOKEN)")
    parser.add_argument("--service", help="the service to act on (default: the first not up)")
    parser.add_argument("--kind", default="restart", help="the action kind to propose")
    parser.add_argument("--wait", type=float, default=0.0,
                        help="seconds to wait for a person's approval")
    args = parser.parse_args()
    if not args.token:
        parser.error("give --token (from `baton demo` or `baton token create --agent ...`)")
    return asyncio.run(drive(args.url, args.token, args.service, args.kind, args.wait))


if __name__ == "__main__":
    sys.exit(main())
