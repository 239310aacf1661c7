"""Operations the CLI (and later the API) share: open an engine on a database, act on it."""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from baton.config import Config, load_config
from baton.connectors import build_connectors
from baton.engine.pipeline import Engine
from baton.errors import BatonError, ConflictError, InputError, NotFoundError
from baton.model import Event
from baton.store import open_store
from baton.store.port import Store


def config_for(store: Store, config_dir: Path | None) -> Config:
    """The configuration a database runs on: the one given, else the one it remembers."""
    if config_dir is None:
        remembered = store.setting("config")
        if remembered is None:
            raise InputError(f"{store.url}: no configuration is known for this database; "
                             "pass --config DIR")
        config_dir = Path(remembered)
    return load_config(config_dir)


def event_types_for(db: str, config_dir: Path | None) -> dict[str, tuple[str, ...]]:
    """The event types a database accepts, without creating anything."""
    from baton.model.events import EVENT_TYPES

    if config_dir is None:
        store = open_store(db, create=False)
        try:
            config = config_for(store, None)
        finally:
            store.close()
    else:
        config = load_config(config_dir)
    types = dict(EVENT_TYPES)
    types.update({k: tuple(v) for k, v in config.settings.event_types.items()})
    return types


def open_engine(db: str, config_dir: Path | None = None) -> Engine:
    """An engine on `db` with its state rebuilt from the processed log."""
    store = open_store(db, create=config_dir is not None)
    config = config_for(store, config_dir)
    if store.setting("config") is None:
        from baton.store import Step

        store.commit(Step(settings={"config": str(config.root.resolve()), "clock": "wall"}))
    engine = Engine(config, store=store, connectors=build_connectors(
        config, seed=config.settings.seed, store=store))
    engine.recover()
    return engine


PROCESSOR = "processor"  # the lease that makes one process at a time the engine of a database
LEASE_SECONDS = 60.0


def owner_id() -> str:
    """Who this process is, for leases."""
    return f"{socket.gethostname()}:{os.getpid()}"


def submit(engine: Engine, events: list[Event], *, wait_s: float = 30.0) -> int:
    """Accept events durably, then see them processed: here, or by the live runner.

    When `baton run --follow` holds the processor lease, this process only appends and
    waits for the runner, so two engines never decide on the same database at once.
    """
    engine.ingest(events)
    me = owner_id()
    holder = engine.store.acquire_lease(PROCESSOR, me, now=time.time(), ttl=LEASE_SECONDS)
    if holder == me:
        try:
            return engine.process_pending()
        finally:
            engine.store.release_lease(PROCESSOR, me)
    keys = [e.key for e in events]
    deadline = time.monotonic() + wait_s
    while engine.store.unprocessed(keys):
        if time.monotonic() > deadline:
            raise BatonError(f"accepted, but the live runner ({holder}) has not processed it "
                             f"within {wait_s:.0f} s; it will when it catches up")
        time.sleep(0.2)
    return 0


def stamp(engine: Engine) -> datetime:
    """The time to put on a command: engine time for virtual-time databases, else now."""
    if engine.store.setting("clock") == "virtual" and engine.clock is not None:
        return engine.now()
    return datetime.now(UTC)


def resolve(engine: Engine, escalation_id: str, *, approve: bool, by: str | None,
            comment: str) -> dict[str, Any]:
    """Approve or reject an open escalation; returns the human decision record."""
    esc = engine.store.escalation(escalation_id)
    if esc is None:
        raise NotFoundError(f"no escalation {escalation_id!r}; `baton escalations` lists them")
    if esc.status != "open":
        who = f" by {esc.resolved_by}" if esc.resolved_by else ""
        raise ConflictError(f"escalation {escalation_id} is already {esc.status}{who}; "
                            "nothing changed")
    at = stamp(engine)
    if at >= esc.deadline:
        raise ConflictError(f"escalation {escalation_id} expired at {esc.deadline.isoformat()} "
                            "(its deadline passed unanswered); nothing changed")
    person = by or (esc.candidates[0] if esc.candidates else None)
    if person is None or person not in engine.config.org.person:
        raise InputError(f"--by {person!r} is not a person of the organisation")
    kind = "baton.approve" if approve else "baton.reject"
    event = Event(key=f"{kind}:{escalation_id}", type=kind, entity=escalation_id,
                  time=at, attrs={"escalation": escalation_id, "by": person,
                                             "comment": comment})
    submit(engine, [event])
    found = engine.store.decisions(limit=1, filters={"decided_by": person})
    if not found or found[0]["outcome"] == "refused":
        reason = found[0]["rationale"] if found else "no decision was recorded"
        raise ConflictError(f"escalation {escalation_id} was not resolved: {reason}")
    return found[0]


def kill_switch(engine: Engine, *, enabled: bool, domain: str | None, by: str) -> None:
    """Turn the kill switch on or off, globally or for one domain, from the next event on."""
    if domain is not None and domain not in engine.config.org.domain:
        raise InputError(f"--domain {domain!r} is not a domain of the organisation "
                         f"(known: {', '.join(sorted(engine.config.org.domain))})")
    event = Event(key=f"baton.kill_switch:{time.time_ns()}", type="baton.kill_switch",
                  entity=domain or "*", time=stamp(engine),
                  attrs={"enabled": enabled, "domain": domain, "by": by})
    submit(engine, [event])
