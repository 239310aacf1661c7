"""The demo's human loop: who is printed, how the simulated people answer, how runs end."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from baton.app import kill_switch_event
from baton.cli import app
from baton.model import Escalation
from baton.sim.demo import DEMO_START, DemoRun, first_paged_approver
from baton.web.host import DemoStatus, EngineHost
from baton.web.presence import Presence
from baton.web.server import drive_demo


def _first_open(run: DemoRun, *, limit_hours: float = 4) -> Escalation:
    while run.now < DEMO_START + timedelta(hours=limit_hours):
        run.step(run.now + timedelta(minutes=1))
        if run.engine.actor.open:
            return min(run.engine.actor.open.values(), key=lambda e: e.created)
    raise AssertionError("no escalation within the first hours")


def _answered(run: DemoRun, esc_id: str) -> bool:
    esc = run.store.escalation(esc_id)  # by a simulated person, not by the chain's fallback
    return esc is not None and esc.status != "open" and esc.resolved_by is not None


def test_the_printed_approver_is_paged_in_the_first_two_virtual_hours(tmp_path: Path) -> None:
    first = first_paged_approver(seed=7)
    assert first is not None
    run = DemoRun(db=tmp_path / "demo.db", seed=7)
    try:
        assert run.config.org.person[first.person].access == "approver"
        assert first.at - DEMO_START < timedelta(hours=2)
        esc = _first_open(run)
        assert esc.id == first.escalation and first.person in esc.candidates
    finally:
        run.store.close()


def test_simulated_people_take_at_least_ten_virtual_minutes(tmp_path: Path) -> None:
    run = DemoRun(db=tmp_path / "demo.db", seed=7)
    try:
        esc = _first_open(run)
        run.step(esc.created + timedelta(minutes=9))
        assert not _answered(run, esc.id)
        run.step(esc.created + timedelta(minutes=90))
        assert _answered(run, esc.id)
    finally:
        run.store.close()


def test_nobody_simulated_answers_for_the_real_approver(tmp_path: Path) -> None:
    first = first_paged_approver(seed=7)
    assert first is not None
    run = DemoRun(db=tmp_path / "demo.db", seed=7)
    run.real_people = frozenset({first.person})
    try:
        esc = _first_open(run)
        assert esc.candidates == [first.person]
        run.step(esc.created + timedelta(minutes=29))  # the first step's SLA is 30 minutes
        assert not _answered(run, esc.id)
        final = run.store.escalation(esc.id)
        assert final is not None and final.resolved_by != first.person
    finally:
        run.store.close()


def test_an_escalation_a_signed_in_person_has_open_is_left_to_them(tmp_path: Path) -> None:
    first = first_paged_approver(seed=7)
    assert first is not None
    run = DemoRun(db=tmp_path / "demo.db", seed=7)
    presence = Presence()
    run.held = lambda waiting: presence.held(run.config.org, waiting, run.now)
    try:
        presence.seen(first.person)
        esc = _first_open(run)
        run.step(esc.created + timedelta(minutes=60))
        assert not _answered(run, esc.id), "the world answered what a person had open"
        presence.left(first.person)  # they go away: their twin answers in its own time
        run.step(run.now + timedelta(minutes=5))
        assert not _answered(run, esc.id)
        run.step(run.now + timedelta(minutes=50))
        assert _answered(run, esc.id)
    finally:
        run.store.close()


def test_simulated_people_stop_while_the_kill_switch_is_on(tmp_path: Path) -> None:
    run = DemoRun(db=tmp_path / "demo.db", seed=7)
    try:
        esc = _first_open(run)
        run.engine.ingest([kill_switch_event(run.config.org, enabled=True, domain=None,
                                             by="lea.klein", at=run.now)])
        run.engine.process_pending()
        assert run.engine.actor.killed.get("*")
        run.step(esc.created + timedelta(hours=3))
        waiting = [e for e in run.store.escalations() if e.status == "open"]
        assert waiting and not any(e.resolved_by for e in run.store.escalations()
                                   if e.status in ("approved", "rejected"))
    finally:
        run.store.close()


@dataclass
class _Server:
    should_exit: bool = False


def test_a_run_says_when_it_ends_and_what_happens_next(tmp_path: Path) -> None:
    for loop in (False, True):
        run = DemoRun(db=tmp_path / f"demo-{loop}.db", seed=7)
        host = EngineHost(run.engine, virtual_clock=True)
        host.demo = DemoStatus(speed=1e6, pace=1e6)
        console = Console(record=True, width=200)
        server = _Server()
        if loop:  # stop after the second run has begun
            console.print = _stop_on(console, server, "Run 2 starts")  # type: ignore[method-assign]
        try:
            drive_demo(run, host, server, console, 0.1, loop)  # type: ignore[arg-type]
        finally:
            run.store.close()
        text = console.export_text()
        assert "Run 1 ended at Mon 02 Mar 00:06 virtual time" in text
        if loop:
            assert "Run 2 starts: the world carries on for another 0.1 virtual hours" in text
        else:
            assert "The world has stopped; the dashboard stays up" in text
            assert host.demo.ended is not None


def _stop_on(console: Console, server: _Server, text: str):  # type: ignore[no-untyped-def]
    original = console.print

    def printing(*args, **kwargs):  # type: ignore[no-untyped-def]
        original(*args, **kwargs)
        if any(text in str(a) for a in args):
            server.should_exit = True

    return printing


def test_a_busy_port_is_refused_with_a_port_hint_and_no_traceback(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["demo", "--port", str(port),
                                          "--db", str(tmp_path / "demo.db")])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert f"port {port} on 127.0.0.1 is already in use" in text
    assert f"--port {port + 1}" in text and "Traceback" not in text
    assert "Sign in" not in text  # nothing printed as if it had started
    assert not (tmp_path / "demo.db").exists()


def test_the_world_slows_to_human_pace_while_someone_holds_an_escalation(
        tmp_path: Path) -> None:
    from baton.web.server import HUMAN_PACE

    run = DemoRun(db=tmp_path / "demo.db", seed=7)
    host = EngineHost(run.engine, virtual_clock=True)
    status = host.demo = DemoStatus(speed=1e6, pace=1e6)
    host.presence.seen("nur.ismail")
    run.held = lambda waiting: {"E-held"}
    server = _Server()
    stopper = threading.Timer(1.0, lambda: setattr(server, "should_exit", True))
    stopper.start()
    try:
        drive_demo(run, host, server, Console(record=True), 24, True)  # type: ignore[arg-type]
    finally:
        stopper.cancel()
        run.store.close()
    assert status.pace == HUMAN_PACE <= 10  # a 30-minute step lasts 3 real minutes or more
    assert status.holding == ["nur.ismail"]
    assert run.now - DEMO_START <= timedelta(minutes=1)


def test_the_printed_approver_is_on_call_when_first_paged(tmp_path: Path) -> None:
    first = first_paged_approver(seed=7)
    assert first is not None
    run = DemoRun(db=tmp_path / "demo.db", seed=7)
    try:
        org = run.config.org
        team = org.person[first.person].team
        assert first.person in org.rotation_of_team[team].members
        assert org.oncall(team, first.at) == first.person
        esc = _first_open(run)
        (entry,) = [h for h in esc.history if first.person in h["candidates"]]
        assert entry["route"] in ("primary", "the role's member on call")
    finally:
        run.store.close()
