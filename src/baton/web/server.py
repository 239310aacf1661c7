"""Serving: the live demo behind the dashboard, and `baton serve` for a real database."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from rich.console import Console

from baton.auth.admin import seed_demo_logins
from baton.auth.service import Auth
from baton.auth.tables import AuthStore
from baton.model import Event
from baton.sim.demo import DEMO_START, DemoRun
from baton.web.app import create_app
from baton.web.host import EngineHost

DEMO_PASSWORD = "baton-demo-2026"


def _server(app: object, port: int) -> uvicorn.Server:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",  # type: ignore[arg-type]
                            access_log=False)
    return uvicorn.Server(config)


def serve_demo(*, db: Path, hours: float, seed: int, port: int, speed: float,
               console: Console, reports: Path | None = None) -> None:
    """Run the itops demo in accelerated time with the dashboard on 127.0.0.1:`port`."""
    run = DemoRun(db=db, seed=seed)
    host = EngineHost(run.engine, virtual_clock=True, reports=reports)
    auth = Auth(AuthStore(run.store.engine), run.config.org)
    logins = seed_demo_logins(auth, run.config.org, password=DEMO_PASSWORD)
    app = create_app(host, auth)
    server = _server(app, port)
    end = DEMO_START + timedelta(hours=hours)

    def drive() -> None:
        wall = time.perf_counter()
        step = timedelta(minutes=1)
        while run.now < end and not server.should_exit:
            until = min(run.now + step, end)
            host.run(lambda _engine, until=until: run.step(until))  # type: ignore[misc]
            target = wall + (run.now - DEMO_START).total_seconds() / speed
            while time.perf_counter() < target and not server.should_exit:
                time.sleep(min(0.2, target - time.perf_counter()))

    console.print(f"[b]Baton dashboard[/b]: http://127.0.0.1:{port}  "
                  f"(itops, seed {seed}, {hours:g} virtual hours at {speed:g}x; Ctrl-C stops)")
    console.print(f"Sign in with any of these ids and the password [b]{DEMO_PASSWORD}[/b]:")
    for person, access in logins:
        name = run.config.org.person[person].name
        console.print(f"  {access:9s} {person:24s} {name}")
    threading.Thread(target=drive, name="demo-world", daemon=True).start()
    try:
        server.run()
    finally:
        run.store.close()


def serve_database(*, directory: Path, db: str, port: int, tick: float,
                   console: Console, reports: Path | None = None) -> None:
    """Serve the API and dashboard for a database, processing events as they come."""
    from baton.app import LEASE_SECONDS, PROCESSOR, open_engine, take_processor

    engine = open_engine(db, directory)
    store = engine.store
    me = take_processor(store, db)
    engine.process_pending()
    host = EngineHost(engine, reports=reports)
    auth = Auth(AuthStore(store.engine), engine.config.org)  # type: ignore[attr-defined]
    server = _server(create_app(host, auth), port)

    def tick_clock() -> None:
        while not server.should_exit:
            time.sleep(tick)
            store.acquire_lease(PROCESSOR, me, now=time.time(), ttl=LEASE_SECONDS)
            now = datetime.now(UTC)
            wake = host.run(lambda engine: engine.next_wakeup())
            if wake is not None and wake <= now:  # only when something is due: an idle
                host.submit([Event(key=f"baton.tick:{now.isoformat()}",  # log stays small
                                   type="baton.tick", entity="baton", time=now)])

    console.print(f"[b]Baton[/b] serving {db} on http://127.0.0.1:{port}")
    threading.Thread(target=tick_clock, name="clock", daemon=True).start()
    try:
        server.run()
    finally:
        host.close()
        store.release_lease(PROCESSOR, me)
