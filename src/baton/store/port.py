"""The storage port: event log, state, ledger, escalations and executions."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from baton.execution.effects import Effect
from baton.ledger.chain import LedgerRow
from baton.model import Decision, Escalation, Event


@dataclass(frozen=True)
class ExecutionRecord:
    """What is known about one action's execution, by idempotency key."""

    key: str
    decision: str
    kind: str
    resource: str
    connector: str
    status: str  # started, done, failed, unknown
    attempts: int = 0
    detail: str = ""
    at: datetime | None = None


@dataclass
class Step:
    """Everything one processing step writes, committed atomically."""

    processed: list[int] = field(default_factory=list)  # event seqs now processed, in order
    first_ord: int = 0  # the processing order of processed[0]; the rest follow it
    ledger: list[LedgerRow] = field(default_factory=list)
    decisions: list[tuple[Decision, float]] = field(default_factory=list)  # with engine ms
    escalations: list[Escalation] = field(default_factory=list)  # new or updated
    executions: list[ExecutionRecord] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    effects: list[Effect] = field(default_factory=list)  # the outbox: what workers carry out
    outcomes: list[tuple[str, str]] = field(default_factory=list)  # (decision, outcome now)
    dead: list[DeadLetter] = field(default_factory=list)  # events quarantined in this step
    # effects the workers finished, stored with this step: their records, their outbox
    # rows closed and (live) their result events appended to the log
    finished: list[tuple[ExecutionRecord, Event | None]] = field(default_factory=list)
    urgent: bool = False  # holds an urgent action or page: commit it without waiting

    def reset(self) -> None:
        """Forget everything (after it was committed)."""
        for value in vars(self).values():
            if isinstance(value, list | dict):
                value.clear()
        self.first_ord = 0
        self.urgent = False

    def empty(self) -> bool:
        """True when the step writes nothing."""
        return not (self.processed or self.ledger or self.decisions or self.escalations
                    or self.executions or self.settings or self.effects or self.outcomes
                    or self.dead or self.finished)


@dataclass(frozen=True)
class SnapshotMeta:
    """What an engine snapshot reflects, and how to tell it is intact."""

    log_seq: int  # how many events were folded in (the position replay goes on from)
    ledger_seq: int
    ledger_head: str
    version: int
    config: str  # fingerprint of the configuration it was taken under
    digest: str  # sha256 of the body


@dataclass(frozen=True)
class DeadLetter:
    """An accepted event whose processing raised: set aside so the next one goes on."""

    seq: int
    key: str
    type: str
    error: str
    at: str  # ISO time it was quarantined (engine time)
    status: str = "held"  # held, retried, discarded


class Store(ABC):
    """Durable state. Adapters: SQLite (embedded default) and PostgreSQL.

    Contract: `append_events` is durable when it returns; `commit` writes a Step
    all or nothing; ledger rows are only ever appended, in sequence order.
    """

    url: str
    #: a leader's check, run inside each transaction that writes the log, the ledger or
    #: the engine's state; it raises once another process leads (see cluster.leadership)
    fence: Callable[[Any], None] | None = None

    def on_close(self, hook: Callable[[], None]) -> None:
        """Call `hook` when the store closes (workers that write to it stop first)."""
        if not hasattr(self, "_close_hooks"):
            self._close_hooks: list[Callable[[], None]] = []
        self._close_hooks.append(hook)

    def _closing(self) -> None:
        for hook in getattr(self, "_close_hooks", []):
            hook()
        self._close_hooks = []

    @abstractmethod
    def append_events(self, events: list[Event], *,
                      settings: dict[str, str] | None = None) -> list[bool]:
        """Persist events (and `settings`, in the same transaction); returns, per event,
        False when its key was already accepted."""

    @abstractmethod
    def events(self, *, after: int = 0, processed: bool | None = None,
               limit: int | None = None,
               types: tuple[str, ...] | None = None) -> list[tuple[int, Event]]:
        """Events in acceptance order with seq > `after`, optionally filtered."""

    @abstractmethod
    def folded(self, *, after: int = 0, limit: int = 2000) -> list[tuple[int, int, Event]]:
        """Processed events in the order the engine folded them in, after position
        `after`: (position, seq, event)."""

    @abstractmethod
    def unprocessed(self, keys: list[str]) -> set[str]:
        """Which of these event keys are accepted but not yet processed."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Row counts: events, processed, ledger, decisions, escalations, executions."""

    @abstractmethod
    def commit(self, step: Step) -> None:
        """Write one processing step atomically."""

    @abstractmethod
    def begin_execution(self, record: ExecutionRecord) -> None:
        """Durably note that an action is about to be sent (for non-idempotent targets)."""

    @abstractmethod
    def finish_effects(self, done: list[tuple[ExecutionRecord, Event | None]]) -> None:
        """Atomically, for each: the execution's final record, its outbox row closed, and
        (when given) the result event appended to the log."""

    @abstractmethod
    def open_effects(self) -> list[Effect]:
        """Effects in the outbox not yet carried out, oldest first."""

    @abstractmethod
    def effect_counts(self) -> dict[str, int]:
        """Outbox rows by status."""

    @abstractmethod
    def dead_letters(self, *, status: str | None = "held") -> list[DeadLetter]:
        """Quarantined events, oldest first, optionally by status."""

    @abstractmethod
    def set_dead_letter(self, seq: int, status: str, retry: Event | None = None) -> None:
        """Mark a dead letter retried (appending `retry` to the log) or discarded."""

    def save_snapshot(self, meta: SnapshotMeta, body: bytes, *, keep: int = 2) -> None:
        """Keep an engine snapshot (and the `keep` newest only). Default: keep none."""
        return None

    def snapshots(self) -> list[tuple[SnapshotMeta, bytes]]:
        """Stored engine snapshots, newest first. Default: none."""
        return []

    @abstractmethod
    def execution(self, key: str) -> ExecutionRecord | None:
        """The execution record for an idempotency key, if any."""

    @abstractmethod
    def ledger_rows(self, *, after: int = 0) -> Iterator[LedgerRow]:
        """Ledger rows in sequence order."""

    @abstractmethod
    def ledger_head(self) -> tuple[int, str]:
        """The last ledger row's sequence number and hash (0 and GENESIS when empty)."""

    @abstractmethod
    def decisions(self, *, limit: int = 50, offset: int = 0,
                  filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Stored decisions, newest first, each as its ledger body plus engine_ms."""

    @abstractmethod
    def decision_index(self, *, since: str = "",
                       limit: int = 10000) -> list[tuple[str, str, str, str, float]]:
        """(time, domain, verdict, outcome, engine_ms) of decisions at or after `since`
        (ISO time), newest first, without their bodies."""

    @abstractmethod
    def decision(self, decision_id: str) -> dict[str, Any] | None:
        """One decision with its ledger hash, or None."""

    @abstractmethod
    def escalation(self, escalation_id: str) -> Escalation | None:
        """One escalation, or None."""

    @abstractmethod
    def escalations(self, *, status: str | None = None) -> list[Escalation]:
        """Escalations, oldest first, optionally by status."""

    @abstractmethod
    def setting(self, key: str) -> str | None:
        """A stored setting (such as the kill switch), or None."""

    @abstractmethod
    def engine_ms(self) -> list[float]:
        """Engine processing time of every decision, in milliseconds."""

    @abstractmethod
    def add_work_item(self, row: dict[str, Any]) -> bool:
        """Queue a work item for people (key, title, domain, decision, created, body);
        False when its key was queued before."""

    @abstractmethod
    def work_items(self, *, status: str | None = "open",
                   limit: int = 100) -> list[dict[str, Any]]:
        """Work items, oldest first, optionally by status."""

    @abstractmethod
    def ping(self) -> None:
        """Raise when the database does not answer."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
