"""A real Baton web server in a thread, on the starter organisation, for API and browser tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from baton.auth.passwords import cheap_hasher
from baton.auth.service import Auth
from baton.auth.tables import AuthStore
from baton.config import Config
from baton.store import Step, open_store
from baton.web.app import create_app
from baton.web.host import EngineHost
from baton.web.server import server_config
from helpers import RecordingWorld, engine_for

PASSWORD = "correct horse battery"
#: one person per access level in the starter organisation
PEOPLE = {"viewer": "vic", "operator": "ola", "approver": "raj", "admin": "ana"}


@dataclass
class Live:
    """A running server with an API token per access level."""

    url: str
    host: EngineHost
    auth: Auth
    world: RecordingWorld
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, access: str | None = None) -> httpx.Client:
        """An HTTP client, signed in with the token of `access` (None: anonymous)."""
        headers = {"Authorization": f"Bearer {self.tokens[access]}"} if access else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30,
                            follow_redirects=False)


@contextmanager
def live_server(config: Config, db: Path | str, *, wall_clock: bool = False
                ) -> Iterator[Live]:
    """Start Baton's app on a free loopback port (`db`: a SQLite path or a database URL);
    stop it afterwards. With `wall_clock`, the engine runs on wall time as `baton serve` does
    (a processor thread, checkpoints and projection checks)."""
    store = open_store(db)
    store.commit(Step(settings={"config": str(config.root), "clock": "wall"}))
    world = RecordingWorld()
    engine = engine_for(config, store, world, live=wall_clock)
    host = EngineHost(engine)
    auth = Auth(AuthStore(store.engine), config.org, hasher=cheap_hasher())
    live = Live("", host, auth, world)
    for access, person in PEOPLE.items():
        auth.set_password(person, PASSWORD)
        live.tokens[access] = auth.create_token(person)[1]
    app = create_app(host, auth)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(
        app, port=port, trusted_proxies=config.settings.web.trusted_proxies, graceful_s=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    live.url = f"http://127.0.0.1:{port}"
    try:
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        host.close()
        sock.close()
        store.close()
