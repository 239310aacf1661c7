"""What the CLI shows: the live demo view, the live runner, decision explanations."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from baton.sim.demo import Tick, run_demo


def _dashboard(tick: Tick) -> Group:
    e = tick.engine
    s = e.stats
    head = Table.grid(padding=(0, 3))
    head.add_row(f"[b]virtual time[/b] {tick.now:%a %H:%M} UTC",
                 f"[b]events[/b] {s.events}", f"[b]situations[/b] {s.situations}",
                 f"[b]decisions[/b] {s.decisions}")
    head.add_row(f"[green]autonomous[/green] {s.verdicts['autonomous']}",
                 f"[yellow]approval[/yellow] {s.verdicts['approval']}",
                 f"[red]denied[/red] {s.verdicts['denied']}",
                 f"[b]executed[/b] {s.actions_executed}")
    head.add_row(f"[b]open escalations[/b] {len(e.actor.open)}",
                 f"[b]incidents open[/b] {len(e.coordinator.open)}",
                 f"[b]correlated[/b] {s.correlated}", f"[b]spend[/b] {s.spend}")
    feed = Table("id", "time", "domain", "situation", "entity", "verdict", "outcome",
                 expand=True, box=None)
    for d in e.store.decisions(limit=12):
        v = (d.get("verdict") or {}).get("kind", "-")
        colour = {"autonomous": "green", "approval": "yellow", "denied": "red"}.get(v, "dim")
        feed.add_row(d["id"], d["time"][11:16], d["domain"], d["situation_kind"],
                     d["entity"], f"[{colour}]{v}[/{colour}]", d["outcome"][:48])
    return Group(Panel(head, title="Baton - itops demo", border_style="blue"),
                 Panel(feed, title="latest decisions"))


def run_demo_view(*, db: Path, hours: float, seed: int, headless: bool, speed: float,
                  console: Console) -> dict[str, Any]:
    """Run the demo with a progress bar (headless) or a live terminal view."""
    if headless:
        progress = Progress(TextColumn("itops demo"), BarColumn(), TextColumn("{task.description}"),
                            TimeElapsedColumn(), console=console, transient=True)
        with progress:
            task = progress.add_task("", total=1.0)

            def advance(tick: Tick) -> None:
                label = f"{tick.now:%a %H:%M} {tick.engine.stats.events} events"
                progress.update(task, completed=tick.done, description=label)

            summary = run_demo(db=db, hours=hours, seed=seed, on_tick=advance)
    else:
        with Live(console=console, refresh_per_second=4) as live:
            summary = run_demo(db=db, hours=hours, seed=seed, speed=speed, step_minutes=1.0,
                               on_tick=lambda t: live.update(_dashboard(t)))
    print_summary(summary, console)
    return summary


def print_summary(summary: dict[str, Any], console: Console) -> None:
    """The batch summary as a table."""
    table = Table("figure", "value", title="run summary")
    for key, value in summary.items():
        shown = json.dumps(value) if isinstance(value, dict) else str(value)
        table.add_row(key, shown)
    console.print(table)
    db = summary.get("db")
    if db:
        console.print(f"next: baton decisions --db {db}   baton escalations --db {db}   "
                      f"baton audit verify --db {db}")


FOLLOW_REPORT_SECONDS = 30.0  # how often `run --follow` says it is alive when nothing comes


def run_live(directory: Path, db: str, *, follow: bool, tick: float,
             console: Console) -> None:
    """Process pending events; with `follow`, keep going and tick the clock on wall time."""
    from baton.app import open_engine, take_lead
    from baton.audit import LiveAudit
    from baton.model import Event
    from baton.store import open_store

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so the lease is given back
    store = open_store(db, create=directory is not None)
    # one pass refuses while another leads; --follow stands by until it ends
    leadership = take_lead(store, db, standby=follow,
                           say=lambda line: console.print(line, highlight=False))
    try:
        engine = open_engine(db, directory, store=store)
    except BaseException:
        leadership.release()
        raise
    leadership.keep()
    duties = LiveAudit(engine, lambda check: check())
    woken = threading.Event()
    engine.on_result = woken.set  # an action's result came back: fold it in now
    try:
        done = engine.settle()
        console.print(f"processed {done} events; ledger at row {engine.ledger.seq}")
        if follow:
            console.print(f"following {db}: new events are processed as they arrive, and a "
                          f"progress line every {FOLLOW_REPORT_SECONDS:g} s; Ctrl-C stops",
                          highlight=False)
        last_tick = last_report = time.monotonic()
        total = 0
        while follow and not leadership.lost.is_set():
            woken.wait(max(0.0, tick - (time.monotonic() - last_tick)))
            woken.clear()
            now = datetime.now(UTC)
            ticked = False
            if time.monotonic() - last_tick >= tick:
                last_tick = time.monotonic()
                wake = engine.next_wakeup()
                if wake is not None and wake <= now:  # ticks only when something is due
                    ticked = True
                    engine.ingest([Event(key=f"baton.tick:{now.isoformat()}",
                                         type="baton.tick", entity="baton", time=now)])
            done = engine.process_pending() - (1 if ticked else 0)
            duties.maybe(now)
            total += max(0, done)
            if done > 0:
                console.print(f"{now:%H:%M:%S} processed {done} events; ledger at row "
                              f"{engine.ledger.seq}", highlight=False)
            if time.monotonic() - last_report >= FOLLOW_REPORT_SECONDS:
                last_report = time.monotonic()
                console.print(f"{now:%H:%M:%S} following: {total} events processed since "
                              f"start, ledger at row {engine.ledger.seq}, "
                              f"{len(engine.actor.open)} escalations open", highlight=False)
                if engine.held:
                    console.print(f"{now:%H:%M:%S} processing held: {engine.held}",
                                  highlight=False)
        if leadership.lost.is_set():
            console.print("[red]this runner no longer leads[/red] (another took over); "
                          "stopping", highlight=False)
            raise SystemExit(3)
    finally:
        engine.close()
        leadership.release()


def print_explanation(record: dict[str, Any], console: Console) -> None:
    """Explain one decision: what happened, what was considered, and why."""
    verdict = record.get("verdict") or {}
    lines = [
        f"[b]{record['id']}[/b] at {record['time']} by {record['decided_by']} "
        f"({record.get('mode', '')})",
        f"situation: {record['situation_kind']} on {record['entity']} "
        f"(domain {record['domain']}, situation {record['situation']})",
        f"event: {record['event']}",
        f"outcome: [b]{record['outcome']}[/b]",
        f"rationale: {record.get('rationale', '')}",
    ]
    if verdict:
        lines.append(f"verdict: [b]{verdict['kind']}[/b] by policies "
                     f"{', '.join(verdict.get('policy_ids', [])) or '(none)'}"
                     + (f"; capped by {verdict['capped_by']}" if verdict.get("capped_by")
                        else "") + f" - {verdict.get('reason', '')}")
    console.print(Panel("\n".join(lines), title="decision"))
    if record.get("proposals"):
        table = Table("proposal", "action", "resource", "score", "verdict", "outcome",
                      title="proposals considered")
        for p in record["proposals"]:
            table.add_row(p["id"], p["action"], p["resource"], str(p["score"]), p["verdict"],
                          p.get("outcome", ""))
        console.print(table)
    if record.get("context"):
        console.print(Panel(json.dumps(record["context"], indent=1, sort_keys=True),
                            title="governance context"))
    console.print(f"ledger row {record.get('ledger_seq')} hash {record.get('hash')}")
