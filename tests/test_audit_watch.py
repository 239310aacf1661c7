"""A table people read that contradicts the ledger holds processing: found by the live
run's projection check, kept across restarts, until an operator acknowledges it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from audit_support import build_db
from baton.app import open_engine
from baton.cli import app
from baton.config import Config
from baton.connectors import build_connectors
from baton.engine.pipeline import Engine
from baton.ledger.guard import HOLD_KEY, LedgerHeldError
from baton.ledger.watch import ProjectionWatch
from baton.model import Event
from baton.store import open_store
from baton.store import schema as t
from baton.store.sql import SqlStore
from conftest import T0
from test_web_session import csrf_of, login
from web_support import PASSWORD, live_server

T = TypeVar("T")


def with_audit(config: Config, **settings: Any) -> Config:
    audit = config.settings.audit.model_copy(update=settings)
    return config.model_copy(update={"settings": config.settings.model_copy(
        update={"audit": audit})})


def edit(store: SqlStore, table: Any, column: str, value: str, *, nth: int = 0) -> str:
    """Change one column of the `nth` row of a table, behind the ledger's back; its id."""
    key = table.c.id if "id" in table.c else table.c.key
    with store.engine.begin() as conn:
        row_id = conn.execute(select(key).order_by(key)).all()[nth][0]
        conn.execute(update(table).where(key == row_id).values({column: value}))
    return str(row_id)


def later(key: str, minutes: float = 600) -> Event:
    return Event(key=key, type="service.down", entity="worker",
                 time=T0 + timedelta(minutes=minutes))


@pytest.fixture
def db(starter: Config, tmp_path: Path) -> Path:
    return build_db(starter, tmp_path / "baton.db")


def acknowledge(db: Path, comment: str) -> str:
    result = CliRunner().invoke(app, ["audit", "acknowledge", "--by", "ana", "--comment",
                                      comment, "--db", str(db)])
    assert result.exit_code == 0, result.output
    return result.output


def test_an_edited_decision_holds_processing_across_restarts_until_acknowledged(
        db: Path) -> None:
    engine = open_engine(str(db))
    assert isinstance(engine.store, SqlStore)
    decision = edit(engine.store, t.decisions, "verdict", "tampered")
    ProjectionWatch(engine).start()  # a small ledger: checked before anything is processed
    assert f"decisions {decision}: verdict is 'tampered' but ledger row" in engine.held
    engine.ingest([later("n1")])
    assert engine.process_pending() == 0
    assert engine.store.unprocessed(["n1"]) == {"n1"}
    assert len(json.loads(engine.store.setting(HOLD_KEY) or "{}")["findings"]) == 1
    engine.store.close()

    with pytest.raises(LedgerHeldError) as held:  # a restart holds too
        open_engine(str(db))
    assert f"decisions {decision}: verdict is 'tampered'" in str(held.value)
    assert "baton audit acknowledge" in str(held.value)

    acknowledge(db, "verdict edit found; restored the row from the ledger by hand")
    engine = open_engine(str(db))
    rows = list(engine.store.ledger_rows())
    ack = json.loads(rows[-1].body)
    assert (ack["record"], ack["by"]) == ("acknowledgement", "ana")
    assert ack["projections"] == held.value.projections and len(ack["projections"]) == 1
    assert f"decisions {decision}" in ack["mismatch"]
    assert not engine.store.setting(HOLD_KEY)
    ProjectionWatch(engine).start()  # the same finding, acknowledged: no hold
    assert engine.held == ""
    assert engine.process_pending() > 0 and engine.store.unprocessed(["n1"]) == set()

    assert isinstance(engine.store, SqlStore)
    other = edit(engine.store, t.decisions, "domain", "elsewhere", nth=2)
    ProjectionWatch(engine).start()  # a new finding holds again
    assert f"decisions {other}: domain is 'elsewhere'" in engine.held
    engine.store.close()


def test_an_acknowledged_projection_hold_keeps_the_replay_check_sharp(db: Path) -> None:
    """After the acknowledgement, recovery still holds when the ledger is cut short."""
    engine = open_engine(str(db))
    assert isinstance(engine.store, SqlStore)
    edit(engine.store, t.decisions, "decided_by", "mallory")
    ProjectionWatch(engine).start()
    assert engine.held
    engine.store.close()
    acknowledge(db, "checked")
    engine = open_engine(str(db))
    engine.ingest([later("n2")])
    assert engine.process_pending() > 0
    seq = engine.ledger.seq
    assert isinstance(engine.store, SqlStore)
    with engine.store.engine.begin() as conn:
        conn.execute(t.ledger.delete().where(t.ledger.c.seq > seq - 2))
    engine.store.close()
    with pytest.raises(LedgerHeldError) as held:
        open_engine(str(db))
    assert "missing" in str(held.value)


def quiet_with(lock: threading.Lock, calls: list[int]) -> Callable[[Callable[[], T]], T]:
    def quiet(work: Callable[[], T]) -> T:
        calls.append(1)
        with lock:
            return work()
    return quiet


def background_engine(starter: Config, db: Path, **audit: Any) -> Engine:
    config = with_audit(starter, check_at_start_rows=0, **audit)
    engine = Engine(config, store=open_store(db), connectors=build_connectors(config))
    engine.recover()
    return engine


def test_a_background_check_looks_again_with_the_engine_quiet_before_holding(
        starter: Config, db: Path) -> None:
    engine = background_engine(starter, db, verify_minutes=None)
    watch = ProjectionWatch(engine)
    watch.start()  # a ledger over check_at_start_rows: the check runs beside processing
    assert engine.held == "" and watch.checks == 0
    assert isinstance(engine.store, SqlStore)
    decision = edit(engine.store, t.decisions, "domain", "elsewhere")
    calls: list[int] = []
    quiet = quiet_with(threading.Lock(), calls)
    now = datetime.now(UTC)
    watch.maybe(now, quiet)  # starts the background check
    assert watch.wait(60)
    watch.maybe(now, quiet)  # it found something: looked at again, quietly, then held
    assert calls == [1] and watch.checks == 2
    assert f"decisions {decision}: domain is 'elsewhere'" in engine.held
    engine.store.close()


def test_checks_beside_a_busy_engine_never_hold_an_intact_ledger(
        starter: Config, db: Path) -> None:
    engine = background_engine(starter, db, verify_minutes=0.0005)  # every 30 ms
    watch = ProjectionWatch(engine)
    lock = threading.Lock()
    stop = threading.Event()

    def work() -> None:
        i = 0
        while not stop.is_set():
            with lock:
                engine.ingest([later(f"busy{i}", 600 + i), Event(
                    key=f"cpu{i}", type="alert", entity="api", time=T0 + timedelta(
                        minutes=601 + i), attrs={"metric": "cpu_util", "value": 0.97})])
                engine.process_pending()
            i += 1

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    calls: list[int] = []
    watch.start()
    deadline = time.monotonic() + 120
    while watch.checks < 6 and time.monotonic() < deadline:
        watch.maybe(datetime.now(UTC), quiet_with(lock, calls))
        time.sleep(0.01)
    stop.set()
    worker.join(30)
    assert watch.checks >= 6, "the background checks did not run"
    assert engine.held == "", engine.held
    assert engine.stats.events > 0
    engine.store.close()


def test_a_live_server_holds_on_an_edit_and_an_admin_resumes_it(
        starter: Config, store_url: str) -> None:
    url = store_url
    config = with_audit(starter, verify_minutes=0.005)  # every 0.3 s
    event = {"specversion": "1.0", "source": "t", "type": "service.down", "subject": "db",
             "time": "2026-03-02T10:00:00Z", "data": {}}
    with live_server(config, url, wall_clock=True) as live, live.client("operator") as api:
        assert api.post("/api/events", json={**event, "id": "1"}).status_code < 300
        store = live.host.store
        assert isinstance(store, SqlStore)
        deadline = time.monotonic() + 60
        while not store.decisions(limit=5) and time.monotonic() < deadline:
            time.sleep(0.1)
        decision = edit(store, t.decisions, "entity", "somewhere")
        deadline = time.monotonic() + 60
        while (ready := api.get("/readyz")).status_code == 200 and \
                time.monotonic() < deadline:
            time.sleep(0.2)
        assert ready.status_code == 503
        assert f"processing held: 1 row of the tables people read contradict the ledger: " \
               f"decisions {decision}: entity is 'somewhere'" in ready.text
        assert "baton_processing_held 1.0" in api.get("/metrics").text
        r = api.post("/api/events", json={**event, "id": "2", "subject": "api"})
        assert r.status_code < 300, r.text  # accepted, and it waits
        assert store.unprocessed(["t:2"]) == {"t:2"}
        assert api.post("/audit/acknowledge", data={"comment": "x"}).status_code == 403

        with httpx.Client(base_url=live.url) as admin:
            login(admin, "ana", PASSWORD)
            page = admin.get("/audit").text
            assert "Processing is held" in page and 'action="/audit/acknowledge"' in page
            r = admin.post("/audit/acknowledge", data={"csrf": csrf_of(page), "comment": ""})
            assert r.status_code == 303 and api.get("/readyz").status_code == 503
            r = admin.post("/audit/acknowledge", data={
                "csrf": csrf_of(admin.get("/audit").text),
                "comment": "a migration rewrote entity names; checked against the ledger"})
            assert r.status_code == 303
            assert "processing resumes" in admin.get("/audit").text
        assert api.get("/readyz").status_code == 200
        deadline = time.monotonic() + 60
        while store.unprocessed(["t:2"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert store.unprocessed(["t:2"]) == set()
        acks = [json.loads(r.body) for r in store.ledger_rows()
                if '"record":"acknowledgement"' in r.body]
        assert [(a["by"], a["comment"][:11]) for a in acks] == [("ana", "a migration")]
        time.sleep(1.0)  # more checks run: the acknowledged finding holds no more
        assert api.get("/readyz").status_code == 200
