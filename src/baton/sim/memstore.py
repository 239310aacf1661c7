"""An in-memory adapter of the storage port, so simulations run the engine at full speed."""

# Same contract as the SQL adapter (idempotent event keys, atomic steps, an append-only
# ledger); nothing survives the process, which a simulation does not need.

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

from baton.execution.effects import Effect
from baton.ledger.chain import GENESIS, LedgerRow
from baton.model import Escalation, Event
from baton.store.port import DeadLetter, ExecutionRecord, Step, Store


class MemoryStore(Store):
    """Event log, ledger and state in Python lists and dicts."""

    url = "memory://"

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._processed: list[bool] = []
        self._keys: set[str] = set()
        self._ledger: list[LedgerRow] = []
        self._decisions: list[tuple[int, float]] = []  # ledger seq, engine ms
        self._escalations: dict[str, str] = {}  # id -> JSON of its latest state
        self._executions: dict[str, ExecutionRecord] = {}
        self._settings: dict[str, str] = {}
        self._work: dict[str, dict[str, Any]] = {}
        self._outbox: dict[str, tuple[Effect, str]] = {}
        self._ord: dict[int, int] = {}  # seq -> the order it was folded in
        self._outcomes: dict[str, str] = {}
        self._dead: dict[int, DeadLetter] = {}
        self._lock = threading.Lock()  # execution workers finish effects from their threads

    def append_events(self, events: list[Event], *,
                      settings: dict[str, str] | None = None) -> list[bool]:
        """Accept events; False for a key accepted before."""
        with self._lock:
            self._settings.update(settings or {})
            return self._append(events)

    def _append(self, events: list[Event]) -> list[bool]:
        fresh = []
        for e in events:
            new = e.key not in self._keys
            fresh.append(new)
            if new:
                self._keys.add(e.key)
                self._events.append(e)
                self._processed.append(False)
        return fresh

    def folded(self, *, after: int = 0, limit: int = 2000) -> list[tuple[int, int, Event]]:
        """Processed events in the order they were folded in."""
        out = [(o, seq, self._events[seq - 1]) for seq, o in self._ord.items() if o > after]
        return sorted(out, key=lambda x: x[0])[:limit]

    def events(self, *, after: int = 0, processed: bool | None = None,
               limit: int | None = None,
               types: tuple[str, ...] | None = None) -> list[tuple[int, Event]]:
        """Events with seq > `after` in acceptance order, optionally filtered."""
        out: list[tuple[int, Event]] = []
        for i in range(after, len(self._events)):
            if (processed is None or self._processed[i] == processed) and (
                    types is None or self._events[i].type in types):
                out.append((i + 1, self._events[i]))
                if limit is not None and len(out) >= limit:
                    break
        return out

    def unprocessed(self, keys: list[str]) -> set[str]:
        """Which of these keys are accepted but not processed."""
        wanted = set(keys)
        return {e.key for e, done in zip(self._events, self._processed, strict=True)
                if e.key in wanted and not done}

    def counts(self) -> dict[str, int]:
        """Row counts."""
        return {"events": len(self._events), "processed": sum(self._processed),
                "ledger": len(self._ledger), "decisions": len(self._decisions),
                "escalations": len(self._escalations), "executions": len(self._executions),
                "dead_letters": sum(d.status == "held" for d in self._dead.values())}

    def commit(self, step: Step) -> None:
        """Apply one step (a single thread: nothing can interleave)."""
        for i, seq in enumerate(step.processed):
            self._processed[seq - 1] = True
            self._ord[seq] = step.first_ord + i
        seq_of = {r.record_id: r.seq for r in step.ledger}
        self._ledger += step.ledger
        self._decisions += [(seq_of[d.id], ms) for d, ms in step.decisions]
        for esc in step.escalations:
            self._escalations[esc.id] = esc.model_dump_json()
        for rec in step.executions:
            self._executions[rec.key] = rec
        self._settings.update(step.settings)
        with self._lock:
            for effect in step.effects:
                self._outbox.setdefault(effect.key, (effect, "pending"))
        self._outcomes.update(step.outcomes)
        for dead in step.dead:
            self._dead[dead.seq] = dead
        if step.finished:
            self.finish_effects(step.finished)

    def finish_effects(self, done: list[tuple[ExecutionRecord, Event | None]]) -> None:
        """The executions' records, their outbox rows closed, the result events appended."""
        with self._lock:
            for record, result in done:
                self._executions[record.key] = record
                if record.key in self._outbox:
                    self._outbox[record.key] = (self._outbox[record.key][0], record.status)
                if result is not None:
                    self._append([result])

    def open_effects(self) -> list[Effect]:
        """Effects not yet carried out."""
        with self._lock:
            return sorted((e for e, status in self._outbox.values() if status == "pending"),
                          key=lambda e: (e.due, e.key))

    def effect_counts(self) -> dict[str, int]:
        """Outbox rows by status."""
        out: dict[str, int] = {}
        with self._lock:
            for _, status in self._outbox.values():
                out[status] = out.get(status, 0) + 1
        return out

    def dead_letters(self, *, status: str | None = "held") -> list[DeadLetter]:
        """Quarantined events, oldest first."""
        return [d for _, d in sorted(self._dead.items())
                if status is None or d.status == status]

    def set_dead_letter(self, seq: int, status: str, retry: Event | None = None) -> None:
        """Mark a dead letter retried (appending `retry`) or discarded."""
        from dataclasses import replace

        self._dead[seq] = replace(self._dead[seq], status=status)
        if retry is not None:
            self.append_events([retry])

    def begin_execution(self, record: ExecutionRecord) -> None:
        """Note an execution about to start."""
        self._executions[record.key] = record

    def execution(self, key: str) -> ExecutionRecord | None:
        """The execution record for a key."""
        return self._executions.get(key)

    def ledger_rows(self, *, after: int = 0) -> Iterator[LedgerRow]:
        """Ledger rows in order."""
        yield from self._ledger[after:]

    def ledger_head(self) -> tuple[int, str]:
        """The last row's seq and hash."""
        return (self._ledger[-1].seq, self._ledger[-1].hash) if self._ledger else (0, GENESIS)

    def all_decisions(self) -> list[dict[str, Any]]:
        """Every decision, oldest first, as its ledger body plus engine_ms."""
        out = []
        for seq, ms in self._decisions:
            record = dict(json.loads(self._ledger[seq - 1].body), engine_ms=ms)
            now = self._outcomes.get(record["id"])
            if now is not None and now != record["outcome"]:
                record["recorded_outcome"], record["outcome"] = record["outcome"], now
            out.append(record)
        return out

    def decisions(self, *, limit: int = 50, offset: int = 0,
                  filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Decisions newest first."""
        rows = self.all_decisions()[::-1]
        for name, value in (filters or {}).items():
            rows = [r for r in rows if str((r.get("verdict") or {}).get("kind") if name ==
                                           "verdict" else r.get(name)) == value]
        return rows[offset:offset + limit]

    def decision_index(self, *, since: str = "",
                       limit: int = 10000) -> list[tuple[str, str, str, str, float]]:
        """(time, domain, verdict, outcome, engine_ms), newest first."""
        out = [(str(r["time"]), str(r["domain"]), str((r.get("verdict") or {}).get(
            "kind") or "none"), str(r["outcome"]), float(r["engine_ms"]))
            for r in self.all_decisions()[::-1] if str(r["time"]) >= since]
        return out[:limit]

    def decision(self, decision_id: str) -> dict[str, Any] | None:
        """One decision by id."""
        return next((r for r in self.all_decisions() if r["id"] == decision_id), None)

    def escalation(self, escalation_id: str) -> Escalation | None:
        """One escalation by id."""
        body = self._escalations.get(escalation_id)
        return None if body is None else Escalation.model_validate_json(body)

    def escalations(self, *, status: str | None = None) -> list[Escalation]:
        """Escalations oldest first."""
        found = [Escalation.model_validate_json(b) for b in self._escalations.values()]
        found.sort(key=lambda e: (e.created, e.id))
        return [e for e in found if status is None or e.status == status]

    def setting(self, key: str) -> str | None:
        """A stored setting."""
        return self._settings.get(key)

    def engine_ms(self) -> list[float]:
        """Engine time of every decision."""
        return [ms for _, ms in self._decisions]

    def add_work_item(self, row: dict[str, Any]) -> bool:
        """Queue a work item once per key."""
        if row["key"] in self._work:
            return False
        self._work[row["key"]] = dict(row, status="open")
        return True

    def work_items(self, *, status: str | None = "open",
                   limit: int = 100) -> list[dict[str, Any]]:
        """Work items oldest first."""
        items = sorted(self._work.values(), key=lambda r: (r["created"], r["key"]))
        return [r for r in items if status is None or r["status"] == status][:limit]

    def ping(self) -> None:
        """Always answers."""

    def close(self) -> None:
        """Stop what writes here; nothing else to release."""
        self._closing()
