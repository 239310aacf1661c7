"""The SQL adapter of the storage port (SQLAlchemy Core), for SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Engine,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from baton.errors import ConfigError
from baton.execution.effects import Effect
from baton.ledger.chain import GENESIS, LedgerRow
from baton.model import Escalation, Event
from baton.store import schema as t
from baton.store.ddl import create_tables
from baton.store.port import DeadLetter, ExecutionRecord, SnapshotMeta, Step, Store

_EXEC_UPDATE = ["status", "attempts", "detail", "at"]
_MARK_PROCESSED = (update(t.events).where(t.events.c.seq == bindparam("s"))
                   .values(processed=True, ord=bindparam("o")))


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _execution_row(rec: ExecutionRecord) -> dict[str, Any]:
    return {"key": rec.key, "decision": rec.decision, "kind": rec.kind,
            "resource": rec.resource, "connector": rec.connector, "status": rec.status,
            "attempts": rec.attempts, "detail": rec.detail, "at": _iso(rec.at)}


def _current(body: str, outcome: str | None, **extra: Any) -> dict[str, Any]:
    """A decision's ledger body with its outcome as it stands now (an action's result,
    recorded later in the ledger, completes the outcome its decision was recorded with)."""
    record: dict[str, Any] = json.loads(body)
    if outcome is not None and outcome != str(record.get("outcome", ""))[:300]:
        record["recorded_outcome"] = record.get("outcome")
        record["outcome"] = outcome
    record.update(extra)
    return record


class SqlStore(Store):
    """Event log, ledger and state in one SQL database."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        create_tables(t.metadata, engine)

    def append_events(self, events: list[Event], *,
                      settings: dict[str, str] | None = None) -> list[bool]:
        """Persist events (and `settings`, in the same transaction); returns, per event,
        False when its key was already accepted."""
        if not events and not settings:
            return []
        fresh: list[bool] = []
        with self.engine.begin() as conn:
            keys = [e.key for e in events]
            known: set[str] = set()
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                known.update(conn.scalars(select(t.events.c.key)
                                          .where(t.events.c.key.in_(chunk))))
            self._fenced(conn)
            rows = []
            for e in events:
                if e.key in known:
                    fresh.append(False)
                    continue
                known.add(e.key)
                fresh.append(True)
                rows.append(self._event_row(e))
            if rows:
                conn.execute(insert(t.events), rows)
            if settings:
                conn.execute(self._upsert(t.settings, ["key"], ["value"]),
                             [{"key": k, "value": v} for k, v in settings.items()])
        return fresh

    @staticmethod
    def _event_row(e: Event) -> dict[str, Any]:
        return {"key": e.key, "type": e.type, "entity": e.entity,
                "time": e.time.isoformat(), "body": e.to_json(), "processed": False}

    def events(self, *, after: int = 0, processed: bool | None = None,
               limit: int | None = None,
               types: tuple[str, ...] | None = None) -> list[tuple[int, Event]]:
        """Events in acceptance order with seq > `after`, optionally filtered."""
        e = t.events.c
        query = select(e.seq, e.body, e.key, e.type, e.entity, e.time).where(e.seq > after)
        if processed is not None:
            query = query.where(t.events.c.processed == processed)
        query = query.order_by(t.events.c.seq)
        if limit is not None:
            query = query.limit(limit)
        # one query per type: each an index range (processed, type, seq), so a few commands
        # behind a long backlog are found without reading the backlog
        queries = [query] if types is None else [query.where(e.type == ty)
                                                 for ty in sorted(set(types))]
        with self.engine.connect() as conn:
            rows = [row for q in queries for row in conn.execute(q)]
        if len(queries) > 1:
            rows.sort(key=lambda row: int(row[0]))
            rows = rows if limit is None else rows[:limit]
        return [(seq, Event.from_stored(body, key=k, type=ty, entity=en, time=ti))
                for seq, body, k, ty, en, ti in rows]

    def folded(self, *, after: int = 0, limit: int = 2000) -> list[tuple[int, int, Event]]:
        """Processed events in the order the engine folded them in."""
        e = t.events.c
        query = (select(e.ord, e.seq, e.body, e.key, e.type, e.entity, e.time)
                 .where(e.ord > after).order_by(e.ord).limit(limit))  # ord: set once processed
        with self.engine.connect() as conn:
            return [(int(o), int(s), Event.from_stored(b, key=k, type=ty, entity=en, time=ti))
                    for o, s, b, k, ty, en, ti in conn.execute(query)]

    def unprocessed(self, keys: list[str]) -> set[str]:
        """Which of these event keys are accepted but not yet processed."""
        query = select(t.events.c.key).where(t.events.c.key.in_(keys),
                                             t.events.c.processed.is_(False))
        with self.engine.connect() as conn:
            return set(conn.scalars(query))

    def counts(self) -> dict[str, int]:
        """Row counts: events, processed, ledger, decisions, escalations, executions."""
        with self.engine.connect() as conn:
            def count(table: Any, *where: Any) -> int:
                return int(conn.scalar(select(func.count()).select_from(table).where(*where))
                           or 0)
            return {
                "events": count(t.events),
                "processed": count(t.events, t.events.c.processed.is_(True)),
                "ledger": count(t.ledger),
                "decisions": count(t.decisions),
                "escalations": count(t.escalations),
                "executions": count(t.executions),
                "dead_letters": count(t.dead_letters, t.dead_letters.c.status == "held"),
            }

    def commit(self, step: Step) -> None:
        """Write one processing step atomically."""
        if step.empty():
            return
        with self.engine.begin() as conn:
            self._fenced(conn)
            self._write(conn, step)

    def _fenced(self, conn: Connection) -> None:
        if self.fence is not None:
            self.fence(conn)

    def _write(self, conn: Connection, step: Step) -> None:
        if step.processed:  # one cached statement, many rows: nothing compiled per batch
            conn.execute(_MARK_PROCESSED, [{"s": seq, "o": step.first_ord + j}
                                           for j, seq in enumerate(step.processed)])
        if step.ledger:
            conn.execute(insert(t.ledger), [
                {"seq": r.seq, "record_id": r.record_id, "body": r.body,
                 "prev_hash": r.prev_hash, "hash": r.hash} for r in step.ledger])
        if step.decisions:
            seq_of = {r.record_id: r.seq for r in step.ledger}
            conn.execute(insert(t.decisions), [
                {"id": d.id, "seq": seq_of[d.id], "time": d.time.isoformat(),
                 "domain": d.domain, "entity": d.entity, "situation_kind": d.situation_kind,
                 "verdict": d.verdict.kind.value if d.verdict else None,
                 "outcome": d.outcome[:300], "decided_by": d.decided_by, "engine_ms": ms}
                for d, ms in step.decisions])
        if step.escalations:
            conn.execute(self._upsert(t.escalations, ["id"], ["status", "body"]), [
                {"id": e.id, "status": e.status, "created": e.created.isoformat(),
                 "body": e.model_dump_json()} for e in step.escalations])
        if step.executions:
            conn.execute(self._upsert(t.executions, ["key"], _EXEC_UPDATE),
                         [_execution_row(r) for r in step.executions])
        if step.settings:
            conn.execute(self._upsert(t.settings, ["key"], ["value"]),
                         [{"key": k, "value": v} for k, v in step.settings.items()])
        if step.effects:
            dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
            conn.execute(dialect.insert(t.outbox).on_conflict_do_nothing(
                index_elements=["key"]), [
                {"key": e.key, "decision": e.decision, "connector": e.connector,
                 "due": e.due.isoformat(), "status": "pending", "body": e.to_json()}
                for e in step.effects])
        if step.outcomes:
            latest = dict(step.outcomes)  # the last word on each decision in this step
            conn.execute(update(t.decisions).where(t.decisions.c.id == bindparam("d_id"))
                         .values(outcome=bindparam("d_outcome")),
                         [{"d_id": d, "d_outcome": o[:300]} for d, o in latest.items()])
        if step.finished:
            self._finish(conn, step.finished)
        if step.dead:
            conn.execute(insert(t.dead_letters), [
                {"seq": d.seq, "key": d.key, "type": d.type, "error": d.error[:4000],
                 "at": d.at, "status": d.status} for d in step.dead])

    def finish_effects(self, done: list[tuple[ExecutionRecord, Event | None]]) -> None:
        """Atomically: the executions' records, their outbox rows closed, result events."""
        if not done:
            return
        with self.engine.begin() as conn:
            self._finish(conn, done)

    def _finish(self, conn: Connection,
                done: list[tuple[ExecutionRecord, Event | None]]) -> None:
        conn.execute(self._upsert(t.executions, ["key"], _EXEC_UPDATE),
                     [_execution_row(record) for record, _ in done])
        for status in {record.status for record, _ in done}:
            keys = [record.key for record, _ in done if record.status == status]
            conn.execute(update(t.outbox).where(t.outbox.c.key.in_(keys))
                         .values(status=status))
        results = [e for _, e in done if e is not None]
        if results:
            known = set(conn.scalars(select(t.events.c.key).where(
                t.events.c.key.in_([e.key for e in results]))))
            rows = [self._event_row(e) for e in results if e.key not in known]
            if rows:
                conn.execute(insert(t.events), rows)

    def save_snapshot(self, meta: SnapshotMeta, body: bytes, *, keep: int = 2) -> None:
        """Keep an engine snapshot, and the `keep` newest only."""
        with self.engine.begin() as conn:
            self._fenced(conn)
            conn.execute(insert(t.snapshots), [dict(vars(meta), body=body)])
            old = list(conn.scalars(select(t.snapshots.c.id).order_by(t.snapshots.c.id.desc())
                                    .offset(keep)))
            if old:
                conn.execute(t.snapshots.delete().where(t.snapshots.c.id.in_(old)))

    def snapshots(self) -> list[tuple[SnapshotMeta, bytes]]:
        """Stored engine snapshots, newest first."""
        s = t.snapshots.c
        query = select(s.log_seq, s.ledger_seq, s.ledger_head, s.version, s.config, s.digest,
                       s.body).order_by(s.id.desc())
        with self.engine.connect() as conn:
            return [(SnapshotMeta(*row[:6]), bytes(row[6])) for row in conn.execute(query)]

    def open_effects(self) -> list[Effect]:
        """Effects in the outbox not yet carried out, oldest first."""
        query = select(t.outbox.c.body).where(t.outbox.c.status == "pending") \
            .order_by(t.outbox.c.due, t.outbox.c.key)
        with self.engine.connect() as conn:
            return [Effect.from_json(b) for b in conn.scalars(query)]

    def effect_counts(self) -> dict[str, int]:
        """Outbox rows by status."""
        query = select(t.outbox.c.status, func.count()).group_by(t.outbox.c.status)
        with self.engine.connect() as conn:
            return {str(k): int(n) for k, n in conn.execute(query)}

    def dead_letters(self, *, status: str | None = "held") -> list[DeadLetter]:
        """Quarantined events, oldest first, optionally by status."""
        query = select(t.dead_letters).order_by(t.dead_letters.c.seq)
        if status is not None:
            query = query.where(t.dead_letters.c.status == status)
        with self.engine.connect() as conn:
            return [DeadLetter(**dict(r._mapping)) for r in conn.execute(query)]

    def set_dead_letter(self, seq: int, status: str, retry: Event | None = None) -> None:
        """Mark a dead letter retried (appending `retry` to the log) or discarded."""
        with self.engine.begin() as conn:
            conn.execute(update(t.dead_letters).where(t.dead_letters.c.seq == seq)
                         .values(status=status))
            if retry is not None:
                conn.execute(insert(t.events), [self._event_row(retry)])

    def _upsert(self, table: Any, keys: list[str], update_cols: list[str]) -> Any:
        """INSERT ... ON CONFLICT (keys) DO UPDATE, for executemany with plain dicts."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(table)
        return stmt.on_conflict_do_update(
            index_elements=keys, set_={c: getattr(stmt.excluded, c) for c in update_cols})

    def begin_execution(self, record: ExecutionRecord) -> None:
        """Durably note that an action is about to be sent (for non-idempotent targets)."""
        with self.engine.begin() as conn:
            conn.execute(self._upsert(t.executions, ["key"], _EXEC_UPDATE),
                         [_execution_row(record)])

    def execution(self, key: str) -> ExecutionRecord | None:
        """The execution record for an idempotency key, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(select(t.executions).where(t.executions.c.key == key)).first()
        if row is None:
            return None
        m = row._mapping
        return ExecutionRecord(key=m["key"], decision=m["decision"], kind=m["kind"],
                               resource=m["resource"], connector=m["connector"],
                               status=m["status"], attempts=m["attempts"], detail=m["detail"],
                               at=datetime.fromisoformat(m["at"]) if m["at"] else None)

    def ledger_rows(self, *, after: int = 0) -> Iterator[LedgerRow]:
        """Ledger rows in sequence order."""
        query = select(t.ledger).where(t.ledger.c.seq > after).order_by(t.ledger.c.seq)
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                m = row._mapping
                yield LedgerRow(m["seq"], m["record_id"], m["body"], m["prev_hash"], m["hash"])

    def ledger_head(self) -> tuple[int, str]:
        """The last ledger row's sequence number and hash (0 and GENESIS when empty)."""
        query = select(t.ledger.c.seq, t.ledger.c.hash).order_by(t.ledger.c.seq.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    def decisions(self, *, limit: int = 50, offset: int = 0,
                  filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Stored decisions, newest first, each as its ledger body plus engine_ms."""
        query = (select(t.ledger.c.body, t.ledger.c.hash, t.decisions.c.engine_ms,
                        t.decisions.c.outcome)
                 .join(t.decisions, t.decisions.c.seq == t.ledger.c.seq))
        for name, value in (filters or {}).items():
            query = query.where(t.decisions.c[name] == value)
        query = query.order_by(t.decisions.c.seq.desc()).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [_current(body, outcome, hash=h, engine_ms=ms)
                    for body, h, ms, outcome in conn.execute(query)]

    def decision_index(self, *, since: str = "",
                       limit: int = 10000) -> list[tuple[str, str, str, str, float]]:
        """(time, domain, verdict, outcome, engine_ms) of decisions at or after `since`."""
        d = t.decisions.c
        query = (select(d.time, d.domain, d.verdict, d.outcome, d.engine_ms)
                 .where(d.time >= since).order_by(d.seq.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [(str(a), str(b), str(c or "none"), str(o), float(ms))
                    for a, b, c, o, ms in conn.execute(query)]

    def decision(self, decision_id: str) -> dict[str, Any] | None:
        """One decision with its ledger hash, or None."""
        query = (select(t.ledger.c.body, t.ledger.c.hash, t.ledger.c.seq, t.decisions.c.outcome)
                 .outerjoin(t.decisions, t.decisions.c.seq == t.ledger.c.seq)
                 .where(t.ledger.c.record_id == decision_id))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return _current(row[0], row[3], hash=row[1], ledger_seq=row[2])

    def escalation(self, escalation_id: str) -> Escalation | None:
        """One escalation, or None."""
        with self.engine.connect() as conn:
            body = conn.scalar(select(t.escalations.c.body)
                               .where(t.escalations.c.id == escalation_id))
        return None if body is None else Escalation.model_validate_json(body)

    def escalations(self, *, status: str | None = None) -> list[Escalation]:
        """Escalations, oldest first, optionally by status."""
        query = select(t.escalations.c.body).order_by(t.escalations.c.created,
                                                      t.escalations.c.id)
        if status is not None:
            query = query.where(t.escalations.c.status == status)
        with self.engine.connect() as conn:
            return [Escalation.model_validate_json(b) for b in conn.scalars(query)]

    def setting(self, key: str) -> str | None:
        """A stored setting (such as the kill switch), or None."""
        with self.engine.connect() as conn:
            value = conn.scalar(select(t.settings.c.value).where(t.settings.c.key == key))
        return None if value is None else str(value)

    def engine_ms(self) -> list[float]:
        """Engine processing time of every decision, in milliseconds."""
        with self.engine.connect() as conn:
            return [float(v) for v in conn.scalars(select(t.decisions.c.engine_ms))]

    def add_work_item(self, row: dict[str, Any]) -> bool:
        """Queue a work item for people; False when its key was queued before."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(t.work_items).values(**row, status="open") \
            .on_conflict_do_nothing(index_elements=["key"]).returning(t.work_items.c.key)
        with self.engine.begin() as conn:
            return conn.execute(stmt).first() is not None

    def work_items(self, *, status: str | None = "open",
                   limit: int = 100) -> list[dict[str, Any]]:
        """Work items, oldest first, optionally by status."""
        query = select(t.work_items).order_by(t.work_items.c.created, t.work_items.c.key)
        if status is not None:
            query = query.where(t.work_items.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query.limit(limit))]

    def ping(self) -> None:
        """Raise when the database does not answer."""
        with self.engine.connect() as conn:
            conn.execute(select(1))

    def close(self) -> None:
        """Stop what writes here, then release connections."""
        self._closing()
        self.engine.dispose()


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


def _create_schema(url: str, schema: str) -> None:
    """CREATE SCHEMA IF NOT EXISTS, for processes that may race to do it."""
    setup = create_engine(url)
    try:
        with setup.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    except DBAPIError:  # another process created it between the check and the CREATE
        pass
    finally:
        setup.dispose()


def open_store(target: str | Path, *, create: bool = True,
               cell: str | None = None) -> SqlStore:
    """Open a store from a path (SQLite) or a sqlite:// or postgresql:// URL.

    A `cell` other than `main` has a log, ledger and state of its own: on PostgreSQL, the
    schema `cell_<id>` of the same database (created when missing).
    """
    text = str(target)
    schema = f"cell_{cell.replace('-', '_')}" if cell and cell != "main" else None
    if text.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        url = "postgresql+psycopg://" + text.split("://", 1)[1]
        try:
            if schema is not None:
                _create_schema(url, schema)
            engine = create_engine(url, pool_pre_ping=True, connect_args={
                "options": f"-csearch_path={schema}"} if schema else {})
            with engine.connect():
                pass
        except Exception as exc:  # the driver's own errors are many; name the target
            raise ConfigError(f"cannot connect to PostgreSQL: {exc}", file=text) from exc
        return SqlStore(engine, url)
    if schema is not None:
        raise ConfigError(f"cell {cell!r}: cells other than main need PostgreSQL", file=text)
    if text.startswith("sqlite://"):
        return SqlStore(_sqlite_engine(text), text)
    path = Path(text)
    if not create and not path.exists():
        raise ConfigError("no database here (run `baton demo` or `baton run` first)",
                          file=text)
    if path.parent and not path.parent.exists():
        raise ConfigError("the database's folder does not exist", file=text)
    url = f"sqlite:///{path}"
    return SqlStore(_sqlite_engine(url), url)
