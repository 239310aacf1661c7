"""Baton's cluster processes started as programs on this machine: for the cluster
benchmark and the tests that kill them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from baton.cluster.leadership import leaders
from baton.cluster.registry import processes
from baton.store import open_store


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Launcher:
    """Starts `baton sequencer|worker|serve` processes of one cluster, each with its
    /healthz on a port of its own and its output in `logs/NAME.log`."""

    def __init__(self, config: Path, db: str, bus: str, logs: Path) -> None:
        self.config, self.db, self.bus, self.logs = config, db, bus, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}

    def start(self, name: str, role: str, *extra: str) -> subprocess.Popen[bytes]:
        """Start `baton ROLE` under `name`."""
        port = free_port()
        args = [sys.executable, "-m", "baton.cli", role, str(self.config), "--db", self.db,
                "--bus", self.bus, "--port", str(port), *extra]
        with (self.logs / f"{name}.log").open("ab") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                    env=dict(os.environ, PYTHONUNBUFFERED="1"))
        self.procs[name], self.ports[name] = proc, port
        return proc

    def log(self, name: str) -> str:
        """What the process printed so far."""
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def url(self, name: str) -> str:
        """Where the process serves."""
        return f"http://127.0.0.1:{self.ports[name]}"

    def up(self, name: str, *, ready: bool = False) -> bool:
        """Whether the process answers /healthz (or, with `ready`, /readyz) with 200."""
        try:
            return httpx.get(self.url(name) + ("/readyz" if ready else "/healthz"),
                             timeout=2, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    def leader(self) -> dict[str, Any] | None:
        """The main cell's leader row while its lease is live."""
        store = open_store(self.db, create=False)
        try:
            return next((r for r in leaders(store.engine) if r["live"]), None)
        finally:
            store.close()

    def standby_ready(self) -> bool:
        """Whether a sequencer stands by (it has said so in the process table)."""
        store = open_store(self.db, create=False)
        try:
            return any(p["role"] == "sequencer" and p["state"] == "standby" and p["alive"]
                       for p in processes(store.engine))
        finally:
            store.close()

    def stop(self) -> None:
        """SIGTERM every process (a paused one is resumed first), then SIGKILL laggards."""
        import signal

        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


class Target:
    """An HTTP target that applies each idempotency key once (after `delay_s`) and counts
    what it got: the actions applied per key, and every request."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.lock = threading.Lock()
        self.applied: dict[str, tuple[str, str]] = {}  # key -> (kind, resource)
        self.requests = 0
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers["Idempotency-Key"]
                if target.delay_s:
                    time.sleep(target.delay_s)
                with target.lock:
                    target.requests += 1
                    target.applied.setdefault(key, (body["action"]["kind"],
                                                    body["action"]["resource"]))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/act"

    def counts(self) -> Counter[tuple[str, str]]:
        """Actions applied, per (kind, resource)."""
        with self.lock:
            return Counter(self.applied.values())

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
