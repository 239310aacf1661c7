"""Serving: the live demo behind the dashboard, and `baton serve` for a real database."""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from rich.console import Console

from baton.agents.llm import LlmRunner
from baton.auth.admin import seed_demo_logins
from baton.auth.service import Auth
from baton.auth.tables import AuthStore
from baton.errors import ConfigError
from baton.model import Event
from baton.org.model import Organisation
from baton.sim.demo import DEMO_START, DemoRun, first_paged_approver
from baton.web.app import create_app
from baton.web.host import DemoStatus, EngineHost

DEMO_PASSWORD = "baton-demo-2026"
HUMAN_PACE = 10.0  # virtual seconds per real second while a person has an escalation open


def server_config(app: object, *, port: int, trusted_proxies: list[str],
                  graceful_s: int = 2, bind: str = "127.0.0.1") -> uvicorn.Config:
    """How Baton's app is served: X-Forwarded-For is believed from the listed proxies only
    (uvicorn would otherwise believe it from any local client); open dashboards hold a
    stream each, so shutting down stops waiting for them after `graceful_s`."""
    return uvicorn.Config(app, host=bind, port=port, log_level="warning",  # type: ignore[arg-type]
                          access_log=False, proxy_headers=bool(trusted_proxies),
                          forwarded_allow_ips=list(trusted_proxies),
                          timeout_graceful_shutdown=graceful_s)


def _server(app: object, port: int, trusted_proxies: list[str],
            bind: str = "127.0.0.1") -> uvicorn.Server:
    return uvicorn.Server(server_config(app, port=port, trusted_proxies=trusted_proxies,
                                        bind=bind))


def check_port(port: int, bind: str = "127.0.0.1") -> None:
    """Refuse a port another program already listens on, naming the fix."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    try:
        probe.bind((bind, port))
    except OSError as exc:
        raise ConfigError(f"port {port} on {bind} is already in use ({exc.strerror}); "
                          f"stop the other server or choose a free port with --port "
                          f"{port + 1 if port < 65535 else 8000}") from None
    finally:
        probe.close()


@contextmanager
def llm_agents(host: EngineHost) -> Iterator[None]:
    """Run the built-in LLM agents beside the server while it serves, when an endpoint is
    configured."""
    llm = LlmRunner.configured(host)
    if llm is not None:
        llm.start()
    try:
        yield
    finally:
        if llm is not None:
            llm.stop()


def demo_logins(auth: Auth, run: DemoRun) -> list[tuple[str, str, str]]:
    """(access, person, note) of the demo's sign-ins; the approver is the first paged."""
    org = run.config.org
    logins = [(access, person, "") for person, access in
              seed_demo_logins(auth, org, password=DEMO_PASSWORD)]
    first = first_paged_approver(seed=run.seed)
    if first is None:
        return logins
    auth.set_password(first.person, DEMO_PASSWORD)
    team = run.config.org.person[first.person].team
    step = {"oncall": f"the {team} on-call", "team_lead": f"team lead, on call for {team}",
            "domain_owner": f"domain owner, on call for {team}"
            }.get(first.step, f"the {first.step} approver on call for {team}")
    note = (f"paged first, at {first.at:%a %H:%M} virtual time, as {step}; "
            "the world leaves your escalations to you")
    return [(a, first.person, note) if a == "approver" else (a, p, n) for a, p, n in logins]


def agents_banner(console: Console, auth: Auth, org: Organisation, *, port: int,
                  db: str) -> None:
    """Print where outside agents connect, with a fresh token for the first one."""
    from baton.agents.tokens import create_agent_token

    if not org.agents:
        return
    first = org.agents[0].id
    _, token = create_agent_token(auth, first)
    console.print(f"Outside agents: MCP over streamable HTTP at http://127.0.0.1:{port}/mcp "
                  f"and the agent API at POST /api/proposals. A token for {first}:",
                  highlight=False)
    console.print(f"  {token}", highlight=False, soft_wrap=True)
    console.print(f"  (make more with `baton token create --agent {first} --db {db}`; "
                  f"examples/sre_copilot.py drives it with the MCP client)", highlight=False,
                  soft_wrap=True)


def serve_demo(*, db: Path, hours: float, seed: int, port: int, speed: float,
               console: Console, reports: Path | None = None, loop: bool = True) -> None:
    """Run the itops demo in accelerated time with the dashboard on 127.0.0.1:`port`."""
    check_port(port)
    run = DemoRun(db=db, seed=seed)
    host = EngineHost(run.engine, virtual_clock=True, reports=reports)
    host.demo = DemoStatus(speed=speed, pace=speed)
    auth = Auth(AuthStore(run.store.engine), run.config.org)
    logins = demo_logins(auth, run)
    run.real_people = frozenset(person for _a, person, _n in logins)
    run.held = lambda waiting: host.presence.held(run.config.org, waiting, run.now)
    server = _server(create_app(host, auth), port, run.config.settings.web.trusted_proxies)
    console.print(f"[b]Baton dashboard[/b]: http://127.0.0.1:{port}  "
                  f"(itops, seed {seed}, {hours:g} virtual hours at {speed:g}x; Ctrl-C stops)")
    console.print(f"Sign in with any of these ids and the password [b]{DEMO_PASSWORD}[/b]:")
    for access, person, note in logins:
        name = run.config.org.person[person].name
        console.print(f"  {access:9s} {person:24s} {name}" + (f"  ({note})" if note else ""),
                      highlight=False)
    agents_banner(console, auth, run.config.org, port=port, db=str(db))
    console.print(f"While a signed-in person has an escalation open, the world slows to "
                  f"{min(speed, HUMAN_PACE):g}x so that there is time to answer it.",
                  highlight=False)
    threading.Thread(target=drive_demo, args=(run, host, server, console, hours, loop),
                     name="demo-world", daemon=True).start()
    try:
        with llm_agents(host):
            server.run()
    finally:
        run.store.close()


def drive_demo(run: DemoRun, host: EngineHost, server: uvicorn.Server, console: Console,
               hours: float, loop: bool) -> None:
    """Step the world minute by minute at the status's pace; say when a day ends."""
    status = host.demo
    assert status is not None
    step = timedelta(minutes=1)
    end = DEMO_START + timedelta(hours=hours)
    anchor_wall, anchor_virtual = time.perf_counter(), run.now
    while not server.should_exit:
        if run.now >= end:
            decisions = host.run(lambda engine: engine.ledger.seq)
            console.print(f"Run {status.day} ended at {run.now:%a %d %b %H:%M} virtual time "
                          f"({decisions} decisions so far).", highlight=False)
            if not loop:
                status.ended = run.now
                console.print("The world has stopped; the dashboard stays up for browsing. "
                              "Ctrl-C stops.", highlight=False)
                return
            status.day += 1
            end += timedelta(hours=hours)
            console.print(f"Run {status.day} starts: the world carries on for another "
                          f"{hours:g} virtual hours. Ctrl-C stops.", highlight=False)
        until = min(run.now + step, end)
        target = anchor_wall + (until - anchor_virtual).total_seconds() / status.pace
        while (left := target - time.perf_counter()) > 0 and not server.should_exit:
            time.sleep(min(0.2, left))  # the time left, read once: it never goes negative
            if status.pace < status.speed and not host.run(
                    lambda e: run.held(list(e.actor.open.values()))):
                status.pace, status.holding = status.speed, []  # answered: full speed again
                anchor_wall, anchor_virtual = time.perf_counter(), run.now
                target = anchor_wall + (until - anchor_virtual).total_seconds() / status.pace
        if server.should_exit:
            return
        host.run(lambda _engine, until=until: run.step(until))  # type: ignore[misc]
        held = host.run(lambda _e: run.held(list(_e.actor.open.values())))
        pace = min(status.speed, HUMAN_PACE) if held else status.speed
        status.holding = host.presence.present() if held else []
        if pace != status.pace:
            status.pace = pace
            anchor_wall, anchor_virtual = time.perf_counter(), run.now


def serve_database(*, directory: Path, db: str, port: int, tick: float,
                   console: Console, reports: Path | None = None) -> None:
    """Serve the API and dashboard for a database, processing events as they come.

    A second process on the same database stands by: it takes over (recovering from the
    newest snapshot plus the log's tail) once the leader ends or its lease expires.
    SIGTERM gives the lease up at once; a process that finds its lease taken stops.
    """
    from baton.app import open_engine, take_lead
    from baton.store import open_store

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # the finally below still runs
    store = open_store(db, create=directory is not None)
    leadership = take_lead(store, db, standby=True,
                           say=lambda line: console.print(line, highlight=False))
    try:
        check_port(port)
        engine = open_engine(db, directory, store=store)
        engine.process_pending()
        host = EngineHost(engine, reports=reports)
        auth = Auth(AuthStore(store.engine), engine.config.org)
        server = _server(create_app(host, auth), port,
                         engine.config.settings.web.trusted_proxies)

        def lost() -> None:
            console.print("[red]this process no longer leads[/red] (another took over); "
                          "stopping", highlight=False)
            server.should_exit = True

        leadership.keep(on_lost=lost)

        def tick_clock() -> None:
            while not server.should_exit:
                time.sleep(tick)
                now = datetime.now(UTC)
                wake = host.run(lambda engine: engine.next_wakeup())
                if wake is not None and wake <= now:  # only when something is due: an
                    host.submit([Event(key=f"baton.tick:{now.isoformat()}",  # idle log
                                       type="baton.tick", entity="baton", time=now)])

        console.print(f"[b]Baton[/b] serving {db} on http://127.0.0.1:{port}")
        threading.Thread(target=tick_clock, name="clock", daemon=True).start()
        try:
            with llm_agents(host):
                server.run()
        finally:
            host.close()
        if leadership.lost.is_set():
            raise SystemExit(3)
    finally:
        leadership.release()


def serve_replica(*, directory: Path, db: str, bus_url: str, port: int, console: Console,
                  reports: Path | None = None, cell: str = "main",
                  bind: str = "127.0.0.1") -> None:
    """Serve the API and dashboard as a stateless replica of a cluster: events go to the
    bus, decisions come from the cell's sequencer. Any number may run."""
    from baton.cluster.bus import Bus
    from baton.cluster.leadership import process_id
    from baton.cluster.registry import Presence
    from baton.cluster.replica import ReplicaHost, replica_engine

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    check_port(port, bind)
    engine = replica_engine(db, directory, cell)
    bus = Bus(bus_url)
    host = ReplicaHost(engine, bus, cell=cell, reports=reports)
    store = engine.store
    presence = Presence(store.engine, process_id(), "serve", host.cell,  # type: ignore[attr-defined]
                        state="serving", detail=f"http://127.0.0.1:{port}")
    from baton.store import open_store

    people = store if cell == "main" else open_store(db)  # sign-ins and tokens: main's
    auth = Auth(AuthStore(people.engine), engine.config.org)  # type: ignore[attr-defined]
    server = _server(create_app(host, auth), port, engine.config.settings.web.trusted_proxies,
                     bind)
    console.print(f"[b]Baton[/b] replica serving {db} on http://{bind}:{port}, "
                  f"events to {bus.server} ({bus.ns})", highlight=False)
    try:
        server.run()
    finally:
        host.close()
        presence.close()
        bus.close()
