"""`baton agents ...` and `baton mcp`: outside agents, their kill switch, the MCP server."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from baton.cli_shared import Db, fail
from baton.errors import BatonError, ConflictError, InputError

agents_app = typer.Typer(no_args_is_help=True,
                         help="Outside and LLM agents: list them, stop or release one.")
out = Console(highlight=False, soft_wrap=True)


def create_token(db: str, agent: str) -> None:
    """Print a new token for an agent (`baton token create --agent ID`)."""
    from baton.agents.tokens import create_agent_token
    from baton.auth import open_auth

    try:
        with open_auth(db) as auth:
            token_id, plaintext = create_agent_token(auth, agent)
    except BatonError as exc:
        raise fail(exc) from None
    out.print(f"agent token {token_id} for {agent}. It is shown only now; store it somewhere "
              "safe:")
    out.print(plaintext)
    out.print("the agent sends it as 'Authorization: Bearer <token>' to POST /api/proposals "
              "or to the MCP endpoint /mcp")


@agents_app.command("list")
def agents_list(db: Db = "baton.db") -> None:
    """The agents of the organisation with their decisions so far."""
    from baton.agents.record import track_records
    from baton.app import config_for
    from baton.store import open_store

    try:
        store = open_store(db, create=False)
        try:
            rows = track_records(store, config_for(store, None).org)
        finally:
            store.close()
    except BatonError as exc:
        raise fail(exc) from None
    if not rows:
        out.print("no outside agents are declared (org.yaml: agents)")
    for r in rows:
        out.print(f"{r['id']:20s} {r['kind']:8s} {r['domain']:12s} owner {r['owner']:16s} "
                  f"proposals {r['proposals']:4d}  executed {r['executed']:4d}  "
                  f"pending {r['pending']:3d}  denied {r['denied']:3d}  "
                  f"conflicted {r['conflicted']:3d}  failed {r['failed']:3d}")


@agents_app.command("kill")
def agents_kill(agent: Annotated[str, typer.Argument(help="agent id")],
                by: Annotated[str, typer.Option("--by", help="person id")],
                off: Annotated[bool, typer.Option("--off", help="release it again")] = False,
                db: Db = "baton.db") -> None:
    """Turn one agent's kill switch on (its autonomous actions escalate) or off."""
    from baton.app import open_engine, stamp, submit
    from baton.model import Event

    try:
        engine = open_engine(db)
        try:
            if agent not in engine.config.org.agent:
                raise InputError(f"{agent!r} is not an agent of the organisation "
                                 f"(agents: {', '.join(sorted(engine.config.org.agent))})")
            if by not in engine.config.org.person:
                raise InputError(f"{by!r} is not a person of the organisation")
            submit(engine, [Event(key=f"baton.kill_switch:{by}:{time.time_ns()}",
                                  type="baton.kill_switch", entity=f"agent:{agent}",
                                  time=stamp(engine), source="cli",
                                  attrs={"enabled": not off, "agent": agent, "by": by})])
        finally:
            engine.store.close()
    except BatonError as exc:
        raise fail(exc) from None
    out.print(f"kill switch of {agent} {'off' if off else 'on'}")


def serve_mcp(agent: str, db: str, config: Path | None) -> None:
    """Serve the MCP server over stdio for one agent, on this database's engine."""
    import anyio

    from baton.agents.mcp_server import build_server
    from baton.app import open_engine, take_lead
    from baton.auth.service import Auth
    from baton.auth.tables import AuthStore
    from baton.store import open_store
    from baton.web.host import EngineHost

    try:
        store = open_store(db, create=config is not None)
        try:
            leadership = take_lead(store, db)
        except ConflictError as exc:
            store.close()
            raise ConflictError(f"{exc}: point the agent at that server's /mcp endpoint "
                                "instead") from None
        engine = open_engine(db, config, store=store)
        if agent not in engine.config.org.agent:
            leadership.release()
            store.close()
            raise InputError(f"{agent!r} is not an agent of the organisation "
                             f"(agents: {', '.join(sorted(engine.config.org.agent))})")
    except BatonError as exc:
        raise fail(exc) from None
    leadership.keep()
    host = EngineHost(engine)
    auth = Auth(AuthStore(store.engine), engine.config.org)
    try:
        anyio.run(build_server(host, auth, agent=agent).run_stdio_async)
    finally:
        host.close()
        leadership.release()
        store.close()


def mcp_command(agent: Annotated[str, typer.Option("--agent", help="agent id")],
                db: Db = "baton.db",
                config: Annotated[Path | None, typer.Option(
                    "--config", help="configuration directory (else the one the database "
                                     "remembers)")] = None) -> None:
    """Serve Baton's MCP server over stdio for one agent (for local agent hosts)."""
    serve_mcp(agent, db, config)
