"""Operations the CLI (and later the API) share: open an engine on a database, act on it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine as SqlEngine

from baton.cluster.leadership import MAIN_CELL, Leadership, fence_for, leaders
from baton.config import Config, load_config
from baton.connectors import build_connectors
from baton.engine.pipeline import EffectSink, Engine
from baton.errors import BatonError, ConflictError, ForbiddenError, InputError, NotFoundError
from baton.model import Event, Objectives
from baton.org.model import Organisation
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


def open_engine(db: str, config_dir: Path | None = None, *,
                store: Store | None = None, sink: EffectSink | None = None) -> Engine:
    """An engine on `db` (or on `store`, already open) with its state rebuilt from the
    processed log."""
    store = store or open_store(db, create=config_dir is not None)
    config = config_for(store, config_dir)
    if store.setting("config") is None:
        from baton.store import Step

        store.commit(Step(settings={"config": str(config.root.resolve()), "clock": "wall"}))
    engine = Engine(config, store=store, connectors=build_connectors(
        config, seed=config.settings.seed, store=store),
        live=store.setting("clock") != "virtual", sink=sink)
    engine.recover()
    return engine


def sql_engine(store: Store) -> SqlEngine:
    """The SQLAlchemy engine under a SQL store (leases and the process table live there)."""
    db: SqlEngine | None = getattr(store, "engine", None)
    if db is None:
        raise BatonError(f"{store.url}: leadership needs a SQL database")
    return db


def take_lead(store: Store, db: str, *, standby: bool = False,
              say: Callable[[str], None] | None = None,
              stop: threading.Event | None = None) -> Leadership:
    """Become the one process that runs the engine of `db`, and fence its store.

    With `standby`, wait until the process that leads now stops (its lease expires, or it
    gives the lease up when it ends); else raise ConflictError naming it.
    """
    leadership = Leadership(sql_engine(store))
    if leadership.try_take() is None:
        holder = next((r for r in leaders(leadership.db) if r["cell"] == MAIN_CELL), {})
        who = f"{holder.get('owner', 'another process')} (epoch {holder.get('epoch', '?')})"
        if not standby:
            raise ConflictError(f"another runner, {who}, is processing {db}; only one may "
                                "at a time")
        if say is not None:
            say(f"standing by: {who} leads {db}; this process takes over within "
                f"{leadership.ttl:g} s of its end")
        if leadership.wait(stop=stop) is None:
            raise BatonError("stopped while standing by")
    assert leadership.lease is not None
    store.fence = fence_for(leadership.lease)
    return leadership


def submit(engine: Engine, events: list[Event], *, wait_s: float = 30.0) -> int:
    """Accept events durably, then see them processed: here, or by the live runner.

    When `baton run --follow` or `baton serve` leads the database, this process only
    appends and waits for it, so two engines never decide on the same database at once.
    """
    engine.ingest(events)
    leadership = Leadership(sql_engine(engine.store))
    lease = leadership.try_take()
    if lease is not None:
        engine.store.fence = fence_for(lease)
        leadership.keep()  # settling may outlast one lease
        try:
            return engine.settle()
        finally:
            engine.store.fence = None
            leadership.release()
    holder = next((r["owner"] for r in leaders(leadership.db) if r["cell"] == MAIN_CELL),
                  "another process")
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


def answer_event(engine: Engine, escalation_id: str, person: str | None, *, approve: bool,
                 comment: str, at: datetime, params: dict[str, Any] | None = None,
                 amount: int | None = None, source: str = "cli") -> Event:
    """The event that answers an escalation, after every check that can refuse it up front.

    Raises NotFoundError (no such escalation), ConflictError (closed, or a change outside
    policy), InputError (unknown person) or ForbiddenError (may not answer); writes nothing.
    """
    from baton.escalation import rules

    esc = engine.store.escalation(escalation_id)
    if esc is None:
        raise NotFoundError(f"no escalation {escalation_id!r}; `baton escalations` lists them")
    closed = rules.check_open(esc, at=at)
    if closed is not None:
        raise ConflictError(closed)
    who = person
    if not who:
        raise InputError(f"who answers {escalation_id} must be named (--by PERSON); paged: "
                         f"{', '.join(esc.candidates) or 'nobody'}")
    if who not in engine.config.org.person:
        raise InputError(f"{who!r} is not a person of the organisation")
    refusal = rules.check_answer(engine.config.org, esc, who, at=at)
    if refusal is not None:
        raise ForbiddenError(f"{who} may not answer {escalation_id}: {refusal}; nothing changed")
    if approve and (params is not None or amount is not None):
        outside = engine.actor.check_change(escalation_id, params, amount, at)
        if outside is not None:
            raise ConflictError(f"the change to {escalation_id} is refused: {outside}; "
                                "nothing changed")
    kind = "baton.approve" if approve else "baton.reject"
    attrs: dict[str, Any] = {"escalation": escalation_id, "by": who, "comment": comment}
    if approve and params is not None:
        attrs["params"] = params
    if approve and amount is not None:
        attrs["amount"] = amount
    return Event(key=f"{kind}:{escalation_id}:{who}:{time.time_ns()}", type=kind,
                 entity=escalation_id, time=at, attrs=attrs, source=source)


def answer_record(engine: Engine, event: Event) -> dict[str, Any]:
    """The human decision an answer event produced; ConflictError when it was refused."""
    for record in engine.store.decisions(limit=50, filters={"decided_by": event.attrs["by"]}):
        if record["event"] == event.key:
            if str(record["outcome"]).startswith("refused"):
                raise ConflictError(f"{event.entity} was not resolved: "
                                    f"{record['rationale'] or record['outcome']}")
            return record
    raise ConflictError(f"the answer to {event.entity} was accepted but not yet decided")


def resolve(engine: Engine, escalation_id: str, *, approve: bool, by: str | None,
            comment: str, params: dict[str, Any] | None = None,
            amount: int | None = None) -> dict[str, Any]:
    """Approve (optionally with changed params/amount) or reject; refusals write nothing."""
    event = answer_event(engine, escalation_id, by, approve=approve, comment=comment,
                         at=stamp(engine), params=params, amount=amount)
    submit(engine, [event])
    return answer_record(engine, event)


def kill_switch_event(org: Organisation, *, enabled: bool, domain: str | None, by: str,
                      at: datetime, comment: str = "", source: str = "cli",
                      field: str = "domain") -> Event:
    """The control event that sets the kill switch; InputError naming an unknown domain."""
    if domain is not None and domain not in org.domain:
        raise InputError(f"{field} {domain!r} is not a domain of the organisation "
                         f"(known: {', '.join(sorted(org.domain))})")
    return Event(key=f"baton.kill_switch:{by}:{time.time_ns()}", type="baton.kill_switch",
                 entity=domain or "*", time=at, source=source,
                 attrs={"enabled": enabled, "domain": domain, "by": by, "comment": comment})


def kill_switch(engine: Engine, *, enabled: bool, domain: str | None, by: str) -> None:
    """Turn the kill switch on or off, globally or for one domain, from the next event on."""
    submit(engine, [kill_switch_event(engine.config.org, enabled=enabled, domain=domain, by=by,
                                      at=stamp(engine), field="--domain")])


def objectives_event(engine: Engine, weights: dict[str, float], *, by: str, at: datetime,
                     comment: str = "", source: str = "cli") -> Event:
    """The control event that changes the objectives; InputError naming a bad weight."""
    if by not in engine.config.org.person:
        raise InputError(f"{by!r} is not a person of the organisation")
    try:
        current_objectives(engine).changed(dict(weights))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(f"objective {'.'.join(str(p) for p in first['loc'])}: "
                         f"{first['msg']}") from exc
    return Event(key=f"baton.objectives:{by}:{time.time_ns()}", type="baton.objectives",
                 entity="objectives", time=at, source=source,
                 attrs={**weights, "by": by, "comment": comment})


def current_objectives(engine: Engine) -> Objectives:
    """The objectives in force: the configured ones, or the last change processed."""
    stored = engine.store.setting("objectives")
    if stored:
        return Objectives.model_validate_json(stored)
    return engine.config.settings.objectives


def set_objectives(engine: Engine, weights: dict[str, float], *, by: str,
                   comment: str = "") -> Objectives:
    """Change the objectives from the next decision on; returns the ones now in force."""
    submit(engine, [objectives_event(engine, weights, by=by, at=stamp(engine),
                                     comment=comment)])
    return current_objectives(engine)
