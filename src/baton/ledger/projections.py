"""Every table people read, checked against the ledger records it is a projection of."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from baton.execution.effects import RESULT_PREFIX
from baton.ledger.policyset import PolicySet, last_recorded
from baton.ledger.tree import event_digest
from baton.model import Escalation, Event
from baton.store import schema as t
from baton.store.port import Store

MAX_FINDINGS = 200


@dataclass(frozen=True)
class Finding:
    """One row that contradicts the ledger: where it is and what differs."""

    table: str
    row: str  # the row's id or key (ledger rows: "row <seq> (<record id>)")
    problem: str

    def __str__(self) -> str:
        where = self.row if self.table == "ledger" else f"{self.table} {self.row}"
        return f"{where}: {self.problem}"


class Projections:
    """Checks the decisions, escalations, executions, events and settings tables."""

    def __init__(self, store: Store, engine: Engine,
                 records: Iterable[tuple[int, str, dict[str, Any]]],
                 policies: PolicySet | None = None) -> None:
        self.store, self.engine, self.policy_set = store, engine, policies
        self.findings: list[Finding] = []
        self.covered: dict[str, int] = {}
        self.by_id: dict[str, tuple[int, dict[str, Any]]] = {}
        self.results: dict[str, list[dict[str, Any]]] = {}  # by decision id
        self.result_keys: dict[str, dict[str, Any]] = {}  # last result by effect key
        self.records = list(records)
        self.newer: set[str] = set()  # decisions recorded after the ledger was read
        self.answers: dict[tuple[str, str], list[str]] = {}  # (decision, person) -> outcomes
        self.changes: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}  # by escalation
        for seq, rid, body in self.records:
            if body.get("record") == "escalation":
                self.changes.setdefault(str(body.get("escalation")), []).append(
                    (seq, rid, body))
            self.by_id[rid] = (seq, body)
            if body.get("record") == "decision" and body.get("mode") == "human":
                self.answers.setdefault((str(body.get("chosen")), str(body.get("decided_by"))),
                                        []).append(str(body.get("outcome", "")))
            if body.get("record") == "result":
                self.results.setdefault(str(body.get("decision")), []).append(body)
                self.result_keys[str(body.get("key"))] = body

    def bad(self, table: str, row: str, problem: str) -> None:
        """Note a finding (up to MAX_FINDINGS)."""
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(Finding(table, row, problem))

    def run(self) -> list[Finding]:
        """Check every projection; the findings, in the order found."""
        self.decisions()
        self.events()
        self.escalations()
        self.executions()
        self.settings()
        self.policies()
        return self.findings

    def decisions(self) -> None:
        """Each decisions row matches its ledger record, and each decision record has one."""
        d = t.decisions.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(d.id, d.seq, d.time, d.domain, d.entity,
                                       d.situation_kind, d.verdict, d.outcome, d.decided_by)
                                .order_by(d.seq)).all()
        seen = set()
        last = self.records[-1][0] if self.records else 0
        for did, seq, time, domain, entity, kind, verdict, outcome, by in rows:
            seen.add(did)
            if seq > last and did not in self.by_id:
                self.newer.add(did)  # written after the ledger was read (a live engine)
                continue
            found = self.by_id.get(did)
            if found is None:
                self.bad("decisions", did, f"no ledger record has this id (row {seq} of the "
                         "ledger has another, or none)")
                continue
            lseq, body = found
            verdict_body = (body.get("verdict") or {}).get("kind")
            expect = {"seq": lseq, "time": _iso(body.get("time")), "domain": body.get("domain"),
                      "entity": body.get("entity"), "situation_kind": body.get("situation_kind"),
                      "verdict": verdict_body, "decided_by": body.get("decided_by")}
            have = {"seq": seq, "time": _iso(time), "domain": domain, "entity": entity,
                    "situation_kind": kind, "verdict": verdict, "decided_by": by}
            for name, value in expect.items():
                if have[name] != value:
                    self.bad("decisions", did, f"{name} is {have[name]!r} but ledger row "
                             f"{lseq} records {value!r}")
                    break
            else:
                self._outcome(did, lseq, str(body.get("outcome", ""))[:300], str(outcome))
        for seq, rid, body in self.records:
            if body.get("record") == "decision" and rid not in seen:
                self.bad("decisions", rid, f"ledger row {seq} records this decision but the "
                         "decisions table has no row for it")
        self.covered["decisions"] = len(rows)

    def _outcome(self, did: str, seq: int, recorded: str, now: str) -> None:
        """An outcome other than the recorded one must follow from a result record."""
        if now == recorded:
            return
        if did not in self.results:
            self.bad("decisions", did, f"outcome is {now!r} but ledger row {seq} records "
                     f"{recorded!r} and no action result of it is recorded")
            return
        for token in ("dispatched", "compensating"):
            if token in recorded and now.startswith(recorded.split(token, 1)[0]):
                return
        self.bad("decisions", did, f"outcome {now!r} does not follow from the recorded "
                 f"{recorded!r} (ledger row {seq})")

    def events(self) -> None:
        """Each decision record's event is in the log, with the digest it bound."""
        wanted: dict[str, list[tuple[int, str, str]]] = {}
        results = {str(b.get("key")) for b in self.result_keys.values()}
        for seq, rid, body in self.records:
            if body.get("record") != "decision":
                continue
            key = str(body.get("event", "-"))
            digest = body.get("event_digest")
            if digest is None:
                if key == "-" or (key.startswith(RESULT_PREFIX)
                                  and key[len(RESULT_PREFIX):] in results):
                    continue
                self.bad("ledger", f"row {seq} ({rid})", f"a decision about event {key!r} "
                         "that binds no digest of it")
                continue
            wanted.setdefault(key, []).append((seq, rid, str(digest)))
        e = t.events.c
        keys = list(wanted)
        found: dict[str, tuple[str, bool]] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(keys), 500):
                query = select(e.key, e.type, e.entity, e.time, e.body, e.processed).where(
                    e.key.in_(keys[i:i + 500]))
                for key, ty, en, ti, body, processed in conn.execute(query):
                    event = Event.from_stored(body, key=key, type=ty, entity=en, time=ti)
                    found[key] = (event_digest(event), bool(processed))
        for key, uses in wanted.items():
            for seq, rid, digest in uses:
                have = found.get(key)
                if have is None:
                    self.bad("events", key, f"ledger row {seq} ({rid}) decided on this event "
                             "but the log does not hold it")
                elif have[0] != digest:
                    self.bad("events", key, f"its content no longer matches the digest "
                             f"ledger row {seq} ({rid}) bound ({have[0][:12]} != "
                             f"{digest[:12]})")
                elif not have[1]:
                    self.bad("events", key, f"ledger row {seq} ({rid}) decided on it but it "
                             "is marked unprocessed")
        self.covered["events"] = len(found)

    def escalations(self) -> None:
        """Each escalation came from a recorded decision; an answered one names the person
        whose recorded decision answered it."""
        count = 0
        for esc in self.store.escalations():
            count += 1
            found = self.by_id.get(esc.decision)
            if esc.decision in self.newer:
                continue
            if found is None:
                self.bad("escalations", esc.id, f"its decision {esc.decision} is not in the "
                         "ledger")
                continue
            seq, body = found
            if esc.id == "E" + esc.decision[1:] and body.get("action") != esc.action:
                self.bad("escalations", esc.id, f"its action {esc.action} differs from the "
                         f"one ledger row {seq} escalated ({body.get('action')})")
                continue
            if esc.status in ("approved", "rejected"):
                answers = self.answers.get((esc.decision, str(esc.resolved_by)), [])
                if not any(o.startswith(esc.status[:-1]) for o in answers):
                    self.bad("escalations", esc.id, f"status {esc.status} by "
                             f"{esc.resolved_by!r}, but the ledger records no such answer")
                    continue
            if self.changes or esc.history:
                self._chain(esc)
        self.covered["escalations"] = count

    def _chain(self, esc: Escalation) -> None:
        """Every step paged is the one its ledger record pages, the current step is the
        last of them, and an expired or withdrawn escalation has the record that ended it."""
        changes = self.changes.get(esc.id, [])
        pages = [(seq, body.get("page")) for seq, _, body in changes
                 if body.get("change") == "paged"]
        if len(esc.history) > len(pages) and esc.history[:len(pages)] == [
                p for _, p in pages] and self._grew():
            return  # a live engine paged again after the ledger was read
        for i in range(max(len(pages), len(esc.history))):
            have = esc.history[i] if i < len(esc.history) else None
            seq, want = pages[i] if i < len(pages) else (None, None)
            if have == want:
                continue
            if want is None:
                self.bad("escalations", esc.id, f"paging step {i + 1} "
                         f"({_page_text(have)}) has no ledger record")
            elif have is None:
                self.bad("escalations", esc.id, f"paging step {i + 1} is missing; ledger "
                         f"row {seq} records {_page_text(want)}")
            else:
                self.bad("escalations", esc.id, f"paging step {i + 1} is "
                         f"{_page_text(have)} but ledger row {seq} records "
                         f"{_page_text(want)}")
            return
        if pages:
            last = pages[-1][1] or {}
            now = {"step": esc.approver, "candidates": esc.candidates, "level": esc.level}
            for name, value in now.items():
                if last.get(name) != value:
                    self.bad("escalations", esc.id, f"its current {name} is {value!r} but "
                             f"the last paging step, ledger row {pages[-1][0]}, records "
                             f"{last.get(name)!r}")
                    return
            if last.get("deadline") and _iso(last["deadline"]) != _iso(esc.deadline.isoformat()):
                self.bad("escalations", esc.id, f"its deadline is {esc.deadline.isoformat()} "
                         f"but ledger row {pages[-1][0]} records {last['deadline']}")
                return
        ended = {"expired": "expired", "superseded": "withdrawn"}
        closing = [(seq, body) for seq, _, body in changes
                   if body.get("change") in ended.values()]
        if esc.status in ended and not any(b.get("change") == ended[esc.status]
                                           for _, b in closing) and not self._grew():
            self.bad("escalations", esc.id, f"status {esc.status}, but the ledger records "
                     f"no {ended[esc.status]} record of it")
        elif closing and esc.status not in ended:
            seq, body = closing[-1]
            self.bad("escalations", esc.id, f"status {esc.status}, but ledger row {seq} "
                     f"records it {body.get('change')}")

    def executions(self) -> None:
        """Each execution belongs to a recorded decision; a finished one has the status of
        the result the ledger recorded for its key (a target's detail text may change when
        a duplicate send is answered, so it is not compared)."""
        x = t.executions.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(x.key, x.decision, x.status)
                                .order_by(x.key)).all()
        for key, decision, status in rows:
            if decision in self.newer:
                continue
            if decision not in self.by_id:
                self.bad("executions", key, f"its decision {decision} is not in the ledger")
                continue
            result = self.result_keys.get(key)
            if result is None:
                continue  # not folded in yet (a live result still on its way)
            if status != result.get("status"):
                self.bad("executions", key, f"status is {status!r} but result record "
                         f"{result.get('id')} records {result.get('status')!r}")
        self.covered["executions"] = len(rows)

    def settings(self) -> None:
        """The kill switch and the objectives are what their last ledger records set."""
        killed: dict[str, bool] = {}
        objectives: Any = None
        for _, _, body in self.records:
            kind = body.get("situation_kind")
            if body.get("record") != "decision":
                continue
            if kind == "kill_switch":
                killed[str(body.get("domain"))] = str(body.get("outcome", "")).startswith(
                    "kill switch on")
            elif kind == "objectives":
                objectives = (body.get("context") or {}).get("after")
        stored = self.store.setting("kill_switch")
        expect = {k: v for k, v in sorted(killed.items()) if v}
        if (json.loads(stored) if stored else {}) != expect and (stored or killed):
            self.bad("settings", "kill_switch", f"is {stored} but the ledger's kill-switch "
                     f"records leave {json.dumps(expect)}")
        stored_obj = self.store.setting("objectives")
        if objectives is not None or stored_obj is not None:
            have = json.loads(stored_obj) if stored_obj else None
            if have != objectives:
                self.bad("settings", "objectives", f"are {stored_obj} but the last objectives "
                         f"record sets {json.dumps(objectives)}")
        self.covered["settings"] = 2


    def _grew(self) -> bool:
        """True when the ledger holds more rows now than when it was read."""
        read = self.records[-1][0] if self.records else 0
        return self.store.ledger_head()[0] > read

    def policies(self) -> None:
        """The policy set in force is the last one the ledger records."""
        if self.policy_set is None:
            return
        last = last_recorded(self.records)
        self.covered["policy sets"] = sum(1 for _, _, b in self.records
                                          if b.get("record") == "policies")
        if last is None:
            if self.records:
                self.bad("policies", "in force", f"hash {self.policy_set.hash[:16]}, but the "
                         "ledger records no policy set")
        elif last[1] != self.policy_set.hash:
            self.bad("policies", "in force", f"the policy files hash to "
                     f"{self.policy_set.hash[:16]} but ledger row {last[0]}, the last policy "
                     f"set recorded, has {last[1][:16]}: they changed since without a record "
                     "(a restart holds recovery until an operator acknowledges the change)")


def _page_text(entry: Any) -> str:
    """One paging step as people read it: the step, whom it paged, when."""
    if not isinstance(entry, dict):
        return repr(entry)
    who = ", ".join(entry.get("candidates") or []) or "nobody"
    return f"{entry.get('step')}: {who} at {entry.get('paged_at')}"


def _iso(value: Any) -> str:
    """An ISO time in one spelling (the ledger writes Z, the tables +00:00)."""
    text = str(value)
    return text[:-1] + "+00:00" if text.endswith("Z") else text
