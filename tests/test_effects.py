"""Effects outside the decision loop: a slow target delays only its own action, results
come back as events, budget is spent only on success, and a poison event is set aside."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from baton import deadletters
from baton.cli import app
from baton.config import Config, HttpTarget
from baton.connectors import build_connectors
from baton.engine.decide import PlaybookAgent
from baton.engine.pipeline import Engine
from baton.execution.port import ActionRequest, ExecResult
from baton.execution.queue import QueueConnector
from baton.execution.sim import SimConnector
from baton.model import Event, Proposal, Situation
from baton.store import Step, open_store
from conftest import T0
from helpers import RecordingWorld, engine_for, ev


class _Gate:
    """A target whose answers wait until the test lets them go (3 s at most)."""

    release = threading.Event()
    status = 200
    seen: list[str] = []

    @classmethod
    def handler(cls) -> type[BaseHTTPRequestHandler]:
        gate = cls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                gate.seen.append(self.headers.get("Idempotency-Key", ""))
                gate.release.wait(3.0)
                self.send_response(gate.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        return Handler


@pytest.fixture
def slow_target() -> Iterator[tuple[str, type[_Gate]]]:
    class gate(_Gate):
        release = threading.Event()
        seen: list[str] = []

    server = ThreadingHTTPServer(("127.0.0.1", 0), gate.handler())
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/act", gate
    finally:
        gate.release.set()
        server.shutdown()
        server.server_close()


def _http(config: Config, url: str) -> Config:
    routes = config.settings.connectors.model_copy(update={
        "default": "http", "http": HttpTarget(url=url, timeout_s=10.0, retries=0)})
    return config.model_copy(update={"settings": config.settings.model_copy(
        update={"connectors": routes})})


def _live(config: Config, db: Path) -> Engine:
    store = open_store(db)
    return Engine(config, store=store, live=True, stamp=lambda e: e.due,
                  connectors=build_connectors(config, store=store))


def test_a_decision_is_recorded_while_a_slow_action_is_in_flight(
        starter: Config, tmp_path: Path, slow_target: tuple[str, type[_Gate]]) -> None:
    url, gate = slow_target
    engine = _live(_http(starter, url), tmp_path / "slow.db")
    engine.ingest([ev("down", "service.down", "db", T0)])
    engine.process_pending()
    (restart,) = [d for d in engine.store.decisions() if d["entity"] == "db"
                  and d["situation_kind"] == "service_down"]
    assert restart["outcome"] == "dispatched"
    # while the restart waits at the target, an unrelated event is decided
    engine.ingest([ev("cpu", "alert", "worker", T0, 1, metric="cpu_util", value=0.97)])
    engine.process_pending()
    scale = [d for d in engine.store.decisions() if d["entity"] == "worker"]
    assert [d["outcome"] for d in scale] == ["dispatched"]
    assert not gate.release.is_set() and engine.store.execution(
        f"{restart['id']}:restart:db") is None, "the restart has not come back yet"
    gate.release.set()
    engine.settle(timeout=60)
    # its result came back as an event and completed the decision's outcome
    assert engine.store.decision(restart["id"])["outcome"] == "executed"  # type: ignore[index]
    results = [e for _, e in engine.store.events() if e.type == "action.result"]
    assert {e.entity for e in results} >= {f"{restart['id']}:restart:db"}
    engine.close()


def test_a_failed_action_gives_its_budget_back_and_is_escalated(
        starter: Config, tmp_path: Path, slow_target: tuple[str, type[_Gate]]) -> None:
    url, gate = slow_target
    gate.status = 500  # the target holds every action until released, then fails it
    engine = _live(_http(starter, url), tmp_path / "fail.db")
    engine.ingest([ev("cpu", "alert", "worker", T0, 1, metric="cpu_util", value=0.97)])
    engine.process_pending()
    domain = "reliability"
    held = engine.budgets.used(domain, T0)
    assert held > 0, "budget is held while the scale-out is in flight"
    gate.release.set()
    engine.settle(timeout=60)
    assert engine.budgets.used(domain, T0) == 0, "a failed action spends nothing"
    (scale,) = [d for d in engine.store.decisions() if d["entity"] == "worker"]
    assert scale["outcome"].startswith("failed (")
    # scale_out has a compensating action: it was tried (and failed at this target too)
    assert scale["outcome"].endswith("compensation failed by scale_in")
    engine.close()


class Bomb(PlaybookAgent):
    """A playbook agent that breaks on one entity (a bug met by one event)."""

    armed = True

    def observe(self, event: Event) -> None:
        if self.armed and event.entity == "poison":
            raise RuntimeError("agent bug on poison")

    def propose(self, situation: Situation) -> list[Proposal]:
        return super().propose(situation)


def test_an_event_that_raises_is_set_aside_and_the_next_one_is_decided(
        starter: Config, tmp_path: Path) -> None:
    db = tmp_path / "poison.db"
    store = open_store(db)
    store.commit(Step(settings={"config": str(starter.root), "clock": "virtual"}))
    agents = [Bomb(a) for a in starter.playbooks.agents]
    engine = Engine(starter, store=store, agents=list(agents),
                    connectors=build_connectors(starter, store=store))
    engine.ingest([ev("ok1", "service.down", "db", T0),
                   ev("bad", "service.down", "poison", T0, 1),
                   ev("ok2", "alert", "worker", T0, 2, metric="cpu_util", value=0.97)])
    assert engine.process_pending() == 3
    (dead,) = store.dead_letters()
    assert dead.key == "bad" and "agent bug on poison" in dead.error
    assert {d["entity"] for d in store.decisions(limit=50)} >= {"db", "worker"}
    quarantined = [r for r in store.ledger_rows() if '"record":"quarantine"' in r.body]
    assert len(quarantined) == 1 and "agent bug on poison" in quarantined[0].body
    assert store.counts()["processed"] == 3
    head = store.ledger_head()
    # a restart comes up and replays to the same head, the quarantine in its place
    again = Engine(starter, store=open_store(db), agents=list(agents),
                   connectors=build_connectors(starter))
    again.recover()
    assert (again.ledger.seq, again.ledger.head) == head
    # the CLI lists it; once the bug is fixed, a retry is decided; discard refuses twice
    runner = CliRunner()
    listed = runner.invoke(app, ["dead-letters", "list", "--db", str(db)])
    assert listed.exit_code == 0 and "agent bug on poison" in listed.output
    for agent in agents:
        agent.armed = False
    retried = runner.invoke(app, ["dead-letters", "retry", str(dead.seq), "--db", str(db)])
    assert retried.exit_code == 0, retried.output
    again.process_pending()
    assert "poison" in {d["entity"] for d in again.store.decisions(limit=50)}
    assert again.store.dead_letters() == []
    twice = runner.invoke(app, ["dead-letters", "discard", str(dead.seq), "--db", str(db)])
    assert twice.exit_code == 2 and "retried already" in twice.output
    unknown = runner.invoke(app, ["dead-letters", "retry", "999", "--db", str(db)])
    assert unknown.exit_code == 2 and "no dead letter at log position 999" in unknown.output
    again.close()


def test_discarding_a_dead_letter_keeps_it_out_of_processing(
        starter: Config, tmp_path: Path) -> None:
    store = open_store(tmp_path / "d.db")
    engine = engine_for(starter, store, RecordingWorld())
    engine.agents.append(Bomb(starter.playbooks.agents[0]))
    engine.observers.append(engine.agents[-1])  # type: ignore[arg-type]
    engine._own_agents = False
    engine.ingest([ev("bad", "service.down", "poison", T0)])
    engine.process_pending()
    (dead,) = store.dead_letters()
    deadletters.discard(store, dead.seq)
    assert store.dead_letters() == [] and store.dead_letters(status="discarded")[0].seq == \
        dead.seq
    engine.process_pending()
    assert store.counts()["dead_letters"] == 0


def test_a_kill_switch_goes_ahead_of_a_backlog_and_replays_in_that_order(
        starter: Config, tmp_path: Path) -> None:
    from baton.app import kill_switch_event

    db = tmp_path / "urgent.db"
    store = open_store(db)
    engine = engine_for(starter, store, RecordingWorld())
    backlog = [ev(f"cpu{i}", "alert", "worker", T0, i, metric="cpu_util", value=0.97)
               for i in range(1200)]
    engine.ingest(backlog)
    engine.ingest([kill_switch_event(starter.org, enabled=True, domain=None, by="ana",
                                     at=T0 + timedelta(minutes=1))])
    engine.process_pending(limit=300)  # one turn: the command first, then some backlog
    assert engine.actor.killed.get("*") is True
    assert len(store.unprocessed([e.key for e in backlog])) > 800
    engine.process_pending()
    assert not store.unprocessed([e.key for e in backlog])
    # every scale-out decided after the command was escalated, none executed
    verdicts = {d["outcome"] for d in store.decisions(limit=5000) if d["entity"] == "worker"}
    assert "executed" not in verdicts and "dispatched" not in verdicts
    head = store.ledger_head()
    again = engine_for(starter, open_store(db), RecordingWorld())
    again.recover()  # replays in the order it was folded in: the command first
    assert (again.ledger.seq, again.ledger.head) == head


def test_a_large_request_is_acknowledged_once_durable_and_decided_in_the_back(
        starter: Config, tmp_path: Path) -> None:
    import time

    from baton.web.host import EngineHost

    store = open_store(tmp_path / "host.db")
    store.commit(Step(settings={"config": str(starter.root), "clock": "wall"}))
    host = EngineHost(_live(starter, tmp_path / "host.db"))
    backlog = [ev(f"cpu{i}", "alert", "worker", T0, i / 100, metric="cpu_util", value=0.97)
               for i in range(3000)]
    fresh = host.submit(backlog)
    assert all(fresh) and store.counts()["events"] >= 3000  # durable when answered
    assert store.unprocessed([e.key for e in backlog]), "decided in the back, not inline"
    deadline = time.monotonic() + 120
    while store.unprocessed([e.key for e in backlog]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not store.unprocessed([e.key for e in backlog])
    host.close()
    store.close()


def test_clock_ticks_are_wanted_only_while_something_waits(starter: Config,
                                                           tmp_path: Path) -> None:
    engine = engine_for(starter, open_store(tmp_path / "tick.db"), RecordingWorld())
    engine.ingest([ev("cpu", "alert", "worker", T0, 0, metric="cpu_util", value=0.2)])
    engine.process_pending()
    assert engine.next_wakeup() is None, "an idle engine needs no ticks in its log"
    engine.ingest([ev("down", "service.down", "api", T0, 1)])  # tier 0: waits for a person
    engine.process_pending()
    wake = engine.next_wakeup()
    assert wake is not None and wake > T0
    deadlines = [e.deadline for e in engine.actor.open.values()]
    assert deadlines and wake <= min(deadlines)


def test_baton_ingest_refuses_a_forged_worker_result(starter_dir: Path, tmp_path: Path) -> None:
    forged = tmp_path / "forged.jsonl"
    forged.write_text('{"key": "action.result:k", "type": "action.result", "entity": "k", '
                      '"time": "2026-03-02T00:00:00Z", "attrs": {"ok": true}, '
                      '"source": "baton.worker"}\n')
    db = tmp_path / "f.db"
    result = CliRunner().invoke(app, ["ingest", str(forged), "--db", str(db),
                                      "--config", str(starter_dir)])
    assert result.exit_code == 2 and "Baton's own execution workers" in result.output
    if db.exists():
        store = open_store(db)
        assert store.counts()["events"] == 0
        store.close()


class _CountingSim(SimConnector):
    """The sim connector, counting how often each idempotency key reaches it."""

    def __init__(self) -> None:
        super().__init__(RecordingWorld())
        self.calls: Counter[str] = Counter()

    def execute(self, request: ActionRequest) -> ExecResult:
        self.calls[request.idempotency_key] += 1
        return super().execute(request)


def test_each_effect_reaches_its_target_once_in_a_live_run(starter: Config,
                                                           tmp_path: Path) -> None:
    # A target that answers at once finishes most actions before their decision's step is
    # committed; handing the committed effects to the workers must not send those again.
    sim = _CountingSim()
    engine = Engine(starter, store=open_store(tmp_path / "once.db"), live=True,
                    stamp=lambda e: e.due, connectors={"sim": sim, "queue": QueueConnector()})
    services = [s.id for s in starter.org.services]
    engine.ingest([ev(f"cpu-{i}", "alert", services[i % len(services)], T0, i,
                      metric="cpu_util", value=0.97) for i in range(400)])
    engine.settle(timeout=60)
    assert sim.calls, "the alerts were acted on"
    assert max(sim.calls.values()) == 1, [k for k, n in sim.calls.items() if n > 1]
    assert len(sim.calls) == engine.stats.actions_dispatched + engine.stats.compensations
    assert engine.store.effect_counts() == {"done": len(sim.calls)}
    engine.close()
    engine.store.close()


def test_an_urgent_decision_is_committed_before_the_rest_of_its_batch(tmp_path: Path) -> None:
    # A tier-0 outage at the head of a large batch: its root-cause action goes out with
    # the first commit, not after the 300 alerts behind it have been decided.
    from baton.bench_storm import storm_config, storm_events

    config = storm_config(50)
    store = open_store(tmp_path / "urgent.db")
    engine = Engine(config, store=store, live=True, stamp=lambda e: e.due,
                    connectors=build_connectors(config, store=store))
    engine.ingest(storm_events(50, 300))
    commits: list[dict[str, int]] = []
    engine.on_commit = lambda: commits.append(store.counts())
    assert engine.process_pending(batch=500, budget_ms=60_000) >= 301  # and some results
    first = commits[0]
    assert 1 <= first["processed"] < 301, "the outage goes out before the alerts behind it"
    # a tier-0 restart needs on-call's approval: the page is out with that commit
    assert first["decisions"] >= 1 and first["escalations"] == 1
    assert len(commits) < 20, "the alerts behind it are still decided in batches"
    engine.close()
    store.close()
