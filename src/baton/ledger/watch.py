"""Live runs check every table people read against the ledger while they work, and hold
processing when one contradicts it.

Checking every projection reads the whole ledger and every table (seconds at a hundred
thousand rows), too slow for each restart and failover. So a live run (`serve`,
`run --follow`, a sequencer) checks once at start, before processing when the ledger is
small (`audit.check_at_start_rows`) and on its own thread otherwise, then every
`audit.verify_minutes`. A background check reads while the engine appends, so what it
finds is checked again with the engine quiet before anything is held; only findings that
survive that second look hold. A hold is kept in the settings, so a restart holds too
(recovery raises LedgerHeldError), until an operator acknowledges these very findings:
the acknowledgement records them, and they do not hold again, while any new one does.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import orjson

from baton.ledger.checkpoints import sql_engine
from baton.ledger.guard import HOLD_KEY, LedgerHeldError, acknowledge, offset_now
from baton.ledger.projections import Finding, Projections
from baton.ledger.writer import LedgerWriter
from baton.store.port import Step, Store

if TYPE_CHECKING:
    from baton.engine.pipeline import Engine

log = logging.getLogger(__name__)

T = TypeVar("T")
Quiet = Callable[[Callable[[], T]], T]  # runs a function while the engine appends nothing


def check(store: Store) -> list[Finding]:
    """Every projection against the ledger: the findings no acknowledgement accepted."""
    records = []
    accepted: set[str] = set()
    for row in store.ledger_rows():
        try:
            body = orjson.loads(row.body)
        except orjson.JSONDecodeError:
            body = {}  # the chain check (audit verify, recovery) names a broken body
        body = body if isinstance(body, dict) else {}
        records.append((row.seq, row.record_id, body))
        if body.get("record") == "acknowledgement" and isinstance(body.get("projections"),
                                                                  list):
            accepted.update(map(str, body["projections"]))
    findings = Projections(store, sql_engine(store), records).run()
    return [f for f in findings if str(f) not in accepted]


def problem_of(findings: list[Finding]) -> str:
    """What a hold says: how many rows contradict the ledger, and the first of them."""
    more = f" (and {len(findings) - 1} more; `baton audit verify` lists them)" \
        if len(findings) > 1 else ""
    return (f"{len(findings)} row{'s' if len(findings) != 1 else ''} of the tables people "
            f"read contradict the ledger: {findings[0]}{more}")


def hold(engine: Engine, findings: list[Finding], at: datetime) -> None:
    """Stop `engine` processing, and keep the hold (with its findings) for restarts."""
    problem = problem_of(findings)
    engine.store.commit(Step(settings={HOLD_KEY: json.dumps(
        {"problem": problem, "findings": list(map(str, findings)),
         "found_at": at.isoformat(timespec="seconds")})}))
    engine.held = problem
    log.error("processing held: %s; an operator acknowledges it with `baton audit "
              "acknowledge --by PERSON` or on the dashboard's audit page", problem)


def kept(store: Store) -> tuple[str, list[str], str] | None:
    """The hold a run left in the settings: its problem, its findings and when it was
    found (None when there is none)."""
    text = store.setting(HOLD_KEY)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("findings"), list):
        # an edited setting still holds
        return f"the hold setting is unreadable ({text[:80]!r})", [], "?"
    return (str(value.get("problem", "")), list(map(str, value["findings"])),
            str(value.get("found_at", "?")))


def acknowledge_hold(engine: Engine, *, by: str, comment: str, at: datetime) -> str:
    """A running engine's hold, acknowledged by `by` (the caller checked who may): the
    acknowledgement record's id; processing resumes. ConflictError when nothing holds."""
    from baton.errors import ConflictError

    found = kept(engine.store)
    if found is None:
        raise ConflictError("nothing to acknowledge: processing is not held")
    stored = engine.store.ledger_head()
    replayed = (stored[0] + offset_now(engine.store), stored[1])
    held = LedgerHeldError(found[0], replayed, stored, projections=found[1])
    rid = acknowledge(engine.store, held, by=by, comment=comment, at=at)
    seq, head = engine.store.ledger_head()
    engine.ledger = LedgerWriter(seq, head)
    engine.held = ""
    log.warning("processing resumes: %s acknowledged the hold (%s)", by, rid)
    return rid


class ProjectionWatch:
    """The live run's projection check: at start, then every `audit.verify_minutes`."""

    def __init__(self, engine: Engine, *, monotonic: Callable[[], float] = time.monotonic
                 ) -> None:
        audit = engine.config.settings.audit
        self.engine, self.monotonic = engine, monotonic
        self.every_s = None if audit.verify_minutes is None else audit.verify_minutes * 60.0
        self.start_rows = audit.check_at_start_rows
        self.last = monotonic()
        self.checks = 0  # completed checks, for tests and the status line
        self._thread: threading.Thread | None = None
        self._result: list[Finding] = []
        self._due = False

    def start(self) -> None:
        """The first check: now when the ledger is small, else on its own thread."""
        if self.engine.held:
            return
        if self.engine.ledger.seq <= self.start_rows:
            self._apply(self._run())
        else:
            self._due = True

    def _run(self) -> list[Finding]:
        try:
            return check(self.engine.store)
        except Exception as exc:  # the database went away: the next check tries again
            log.warning("projection check failed (%s: %s); trying again later",
                        type(exc).__name__, exc)
            return []
        finally:
            self.checks += 1
            self.last = self.monotonic()

    def _background(self) -> None:
        self._result = self._run()

    def maybe(self, now: datetime, quiet: Quiet[None]) -> None:
        """From the live loop: start a check when one is due; when one found something,
        check again with the engine quiet (`quiet`) and hold on what remains."""
        if self.engine.held:
            return
        if self._thread is not None:
            if self._thread.is_alive():
                return
            self._thread, result, self._result = None, self._result, []
            if result:
                quiet(lambda: self._apply(self._run(), at=now))
            return
        due = self._due or (self.every_s is not None
                            and self.monotonic() - self.last >= self.every_s)
        if due:
            self._due = False
            self._thread = threading.Thread(target=self._background, daemon=True,
                                            name="baton-projection-check")
            self._thread.start()

    def _apply(self, findings: list[Finding], *, at: datetime | None = None) -> None:
        if findings:
            hold(self.engine, findings, at or datetime.now(UTC))

    def wait(self, timeout: float) -> bool:
        """Wait for a background check to end (tests); False when it is still running."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True
