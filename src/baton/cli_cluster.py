"""`baton sequencer`, `baton worker` and `baton cluster status`: Baton on more than one
process, with PostgreSQL for state and NATS JetStream for the bus."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from baton.cli_shared import fail
from baton.errors import BatonError

out = Console(highlight=False, soft_wrap=True)

Db = Annotated[str, typer.Option("--db", help="postgresql:// URL (or a SQLite path)",
                                 envvar="BATON_DB")]
BusUrl = Annotated[str, typer.Option("--bus", help="nats://HOST:PORT[?ns=NAME]",
                                     envvar="BATON_BUS")]
Port = Annotated[int | None, typer.Option(min=1, max=65535,
                                          help="serve /healthz, /readyz and /metrics here")]
cluster_app = typer.Typer(no_args_is_help=True, help="The processes of a Baton cluster.")


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: the process finishes its turn and hands over."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def sequencer(directory: Path, db: Db, bus: BusUrl,
              cell: Annotated[str, typer.Option(help="the cell this sequencer decides")]
              = "main",
              port: Port = None,
              tick: Annotated[float, typer.Option(help="seconds between clock checks")] = 1.0,
              lease: Annotated[float, typer.Option(min=0.5, help="lease seconds: a standby "
                                                    "takes over this long after a death")]
              = 2.5) -> None:
    """Decide a cell's events; with others running, exactly one leads and the rest stand
    by. Exits 3 when it finds another process took over (it was paused, say)."""
    from baton.cluster.sequencer import run_sequencer

    stop = _stop_on_signals()
    try:
        code = run_sequencer(directory, db, bus, cell=cell, port=port, tick=tick, ttl=lease,
                             stop=stop, say=out.print)
    except BatonError as exc:
        raise fail(exc) from None
    raise typer.Exit(code)


def worker(directory: Path, db: Db, bus: BusUrl,
           threads: Annotated[int, typer.Option(min=1, max=256,
                                                help="effects carried out at once")] = 4,
           port: Port = None,
           ack_wait: Annotated[float | None, typer.Option(
               min=1.0, help="seconds before an effect held by a silent worker goes to "
                             "another (set once, when the queue's consumer is created)")]
           = None) -> None:
    """Carry effects out from the bus's work queue; any number may run."""
    from baton.cluster.worker import run_worker

    stop = _stop_on_signals()
    try:
        code = run_worker(directory, db, bus, threads=threads, port=port, ack_wait=ack_wait,
                          stop=stop, say=out.print)
    except BatonError as exc:
        raise fail(exc) from None
    raise typer.Exit(code)


@cluster_app.command("status")
def cluster_status(db: Db, bus: BusUrl,
                   as_json: Annotated[bool, typer.Option("--json",
                                                         help="print JSON")] = False) -> None:
    """Each cell's leader, epoch and lag; the processes and their roles; the work queue."""
    from baton.cluster.status import status

    try:
        report = status(db, bus)
    except BatonError as exc:
        raise fail(exc) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    _print_status(report)


def _print_status(report: dict[str, Any]) -> None:
    cells = Table(title="cells")
    for name in ("cell", "leader", "host", "pid", "epoch", "lease", "lag"):
        cells.add_column(name)
    for c in report["cells"]:
        cells.add_row(c["cell"], c["leader"] or "-", c["host"] or "-", str(c["pid"] or "-"),
                      str(c["epoch"]), "live" if c["live"] else "expired", str(c["lag"]))
    out.print(cells)
    procs = Table(title="processes")
    for name in ("role", "cell", "state", "host", "pid", "seen", "detail"):
        procs.add_column(name)
    for p in report["processes"]:
        procs.add_row(p["role"], p["cell"], p["state"], p["host"], str(p["pid"]),
                      f"{p['seen_s_ago']:.1f} s ago" + ("" if p["alive"] else " (gone)"),
                      p["detail"])
    out.print(procs)
    queue = report["queue"]
    out.print("work queue: " + (", ".join(f"{k} {v}" for k, v in sorted(queue.items()))
                                or "no worker has connected yet"))


def register(app: typer.Typer) -> None:
    """Add the cluster commands to the main CLI."""
    app.command()(sequencer)
    app.command()(worker)
    app.add_typer(cluster_app, name="cluster")
