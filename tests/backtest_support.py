"""Builders the backtest and policy-version tests share."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

from baton.config import Config
from baton.model import Event
from baton.store import Step, open_store
from conftest import T0
from helpers import ev
from ladder_support import engine_on, feed

EVENTS = [ev("d-db", "service.down", "db", T0), ev("r-db", "service.recovered", "db", T0, 5),
          ev("d-api", "service.down", "api", T0, 60),
          ev("cpu", "alert", "worker", T0, 120, metric="cpu_util", value=0.97)]


def live_db(config: Config, path: Path, events: list[Event] = EVENTS) -> Path:
    """A database as a run leaves it: its configuration remembered, the events decided."""
    store = open_store(path)
    store.commit(Step(settings={"config": str(config.root), "clock": "virtual"}))
    store.close()
    engine = feed(engine_on(config, path), events)
    engine.close()
    engine.store.close()
    return path


def policies_with(starter_dir: Path, tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the starter's policies with one piece of text replaced."""
    out = tmp_path / "candidate"
    shutil.copytree(starter_dir / "policies", out)
    path = out / "reliability.cedar"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return out


def dump_hash(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
    finally:
        conn.close()


RESTARTS_NEED_APPROVAL = ('@id("restart-below-tier0") @verdict("autonomous")',
                          '@id("restart-below-tier0") @verdict("approval") @approver("oncall")')
