"""Policy sets in versions: proposed, approved by a second person, live from a point in
the log, rolled back.

Each step is a `baton.policy` control event, so the version that judged a decision is a
function of the log: live runs, recovery and replay switch at the same event. The set in
force is named by its hash, which every decision record carries (`policy_set`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from baton.errors import BatonError, ConfigError, PolicyError
from baton.governance.gate import Gate
from baton.governance.policies import PolicyBook
from baton.ledger.policyset import PolicySet
from baton.model import Decision, Event
from baton.store.port import Step, Store

if TYPE_CHECKING:
    from baton.engine.pipeline import Engine

#: characters of policy text per event string (the input limits cap one string at 10,000)
CHUNK = 8000


def policy_hash(files: list[tuple[str, str]]) -> str:
    """The hash of a policy set, as its ledger record names it (baton.ledger.policyset)."""
    return PolicySet.of(files).hash


#: policy decision records after which another set is in force (context["hash"])
SWITCHED = ("policy live", "policy rolled back")


def set_in_force(store: Store, files: list[tuple[str, str]]) -> PolicySet:
    """The policy set in force by the ledger: the last one a policy version made live (or
    rolled back to), else the configured files."""
    found = None
    for row in store.ledger_rows(after=0):
        body = orjson.loads(row.body)
        if body.get("record") == "decision" and body.get("situation_kind") == "policy" \
                and body.get("outcome") in SWITCHED:
            found = str((body.get("context") or {}).get("hash"))
    base = PolicySet.of(files)
    return base if found is None or found == base.hash else PolicySet(found, {})


def read_policy_dir(path: Path) -> list[tuple[str, str]]:
    """The Cedar files of a directory, checked: PolicyError names file:line when one is
    invalid, ConfigError when there is none."""
    if not path.is_dir():
        raise ConfigError("not a directory of Cedar policies", file=str(path))
    files = sorted(path.glob("*.cedar"))
    if not files:
        raise ConfigError("no *.cedar files", file=str(path))
    out = []
    for f in files:
        try:
            out.append((str(f), f.read_text(encoding="utf-8")))
        except UnicodeDecodeError as exc:
            raise PolicyError(f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                              file=str(f)) from None
    PolicyBook(out)
    return out


def pack(files: list[tuple[str, str]]) -> list[list[str]]:
    """Files as event attributes: [name, chunk, chunk, ...] each."""
    return [[Path(name).name, *[text[i:i + CHUNK] for i in range(0, len(text), CHUNK)]]
            for name, text in files]


def unpack(packed: Any) -> list[tuple[str, str]]:
    """The files `pack` wrote; ValueError when the shape is wrong."""
    if not isinstance(packed, list) or not packed:
        raise ValueError("files must be a non-empty list of [name, text...]")
    out = []
    for item in packed:
        if not isinstance(item, list) or len(item) < 1 or \
                not all(isinstance(x, str) for x in item):
            raise ValueError("each file must be [name, text...] of strings")
        out.append((item[0], "".join(item[1:])))
    return out


def proposal_id(digest: str, by: str) -> str:
    """A proposal's id: from the set it proposes and who proposed it."""
    return "PS-" + hashlib.sha256(f"{digest}\x00{by}".encode()).hexdigest()[:12]


class PolicyVersions:
    """The policy set in force, the proposals, and the versions that went live (state)."""

    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self.base = policy_hash(engine.config.policies)
        self.active = self.base  # the hash of the set in force
        self.proposals: dict[str, dict[str, Any]] = {}
        self.live: list[str] = []  # proposal ids that went live, in order (rollback pops)

    def files_of(self, pid: str) -> list[tuple[str, str]]:
        """The files of a proposal."""
        return unpack(self.proposals[pid]["files"])

    def rebind(self) -> None:
        """Point the engine's policy book and gate at the set in force (after a restore)."""
        if self.live and not self.e.frozen_policies:
            self._use(self.files_of(self.live[-1]))

    def _use(self, files: list[tuple[str, str]] | None) -> None:
        e = self.e
        if files is None:
            e.book, e.gate, e.policy_set = e.base_book, e.base_gate, e.base_policy_set
        else:
            e.book = PolicyBook(files)
            e.gate = Gate(e.book, e.base_gate.entities)
            e.policy_set = PolicySet.of(files)

    def control(self, event: Event, now: datetime, step: Step) -> None:
        """Apply a `baton.policy` event (propose, approve, rollback); a refusal is
        recorded and changes nothing."""
        if self.e.frozen_policies:
            return  # a backtest: the set it was given stays, whatever the log says
        a = event.attrs
        op, by = str(a["op"]), str(a["by"])
        person = self.e.config.org.person.get(by)
        context: dict[str, Any] = {"op": op}
        try:
            if person is None:
                raise ValueError(f"{by!r} is not a person of the organisation")
            if op == "propose":
                outcome, why = self._propose(event, by, now, context)
            elif op in ("approve", "rollback"):
                if person.access != "admin":
                    raise ValueError(f"{by} is not an admin; only an admin may {op}")
                outcome, why = (self._approve(str(a.get("id", "")), by, now, context)
                                if op == "approve" else self._rollback(by, now, context))
            else:
                raise ValueError(f"unknown op {op!r} (propose, approve, rollback)")
        except (ValueError, BatonError) as exc:
            outcome, why = f"policy {op} refused", f"refused, nothing changed: {exc}"
        context["active"] = self.active
        self.e.actor.note_policies(now, step)  # the set in force from here, if it changed
        comment = str(a.get("comment", ""))
        self.e.actor.record(Decision(
            id=self.e.ledger.next_id(basis=f"policy:{op}"), time=now, event=event.key,
            situation="-", situation_kind="policy", entity=str(context.get("id", "-")),
            domain="*", decided_by=by, chosen=None, action=None, verdict=None, mode="human",
            outcome=outcome, rationale=why + (f"; {comment}" if comment else ""),
            context=context), step)

    def _propose(self, event: Event, by: str, now: datetime,
                 context: dict[str, Any]) -> tuple[str, str]:
        files = unpack(event.attrs.get("files"))
        PolicyBook(files)  # PolicyError names file:line
        digest = policy_hash(files)
        pid = proposal_id(digest, by)
        if pid in self.proposals and self.proposals[pid]["status"] == "proposed":
            raise ValueError(f"{pid} is already proposed")
        backtest = event.attrs.get("backtest") or {}
        self.proposals[pid] = {"id": pid, "hash": digest, "files": pack(files), "by": by,
                               "at": now.isoformat(), "status": "proposed",
                               "backtest": backtest, "approved_by": None, "live_at": None,
                               "previous": self.active}
        context.update(id=pid, hash=digest, backtest={k: backtest.get(k) for k in
                                                      ("decisions", "flip_count", "effect")})
        return "policy proposed", (f"{pid}: policy set {digest[:12]} proposed by {by}; needs "
                                   "an admin other than them to approve")

    def _approve(self, pid: str, by: str, now: datetime,
                 context: dict[str, Any]) -> tuple[str, str]:
        context["id"] = pid
        p = self.proposals.get(pid)
        if p is None or p["status"] != "proposed":
            raise ValueError(f"no policy proposal {pid!r} is waiting"
                             + (f" (it is {p['status']})" if p else ""))
        if p["by"] == by:
            raise ValueError(f"{by} proposed {pid}; another person must approve it")
        self._use(self.files_of(pid))
        before, self.active = self.active, p["hash"]
        p.update(status="live", approved_by=by, live_at=now.isoformat())
        self.live.append(pid)
        context.update(hash=p["hash"], before=before, proposed_by=p["by"], approved_by=by)
        return "policy live", (f"{pid} approved by {by} (proposed by {p['by']}): policy set "
                               f"{before[:12]} -> {p['hash'][:12]} from this event on")

    def _rollback(self, by: str, now: datetime, context: dict[str, Any]) -> tuple[str, str]:
        if not self.live:
            raise ValueError("the configured policy set is in force; nothing to roll back")
        pid = self.live.pop()
        self.proposals[pid]["status"] = "rolled back"
        before = self.active
        if self.live:
            self._use(self.files_of(self.live[-1]))
            self.active = self.proposals[self.live[-1]]["hash"]
        else:
            self._use(None)
            self.active = self.base
        context.update(id=pid, hash=self.active, before=before)
        return "policy rolled back", (f"{pid} rolled back by {by}: policy set {before[:12]} "
                                      f"-> {self.active[:12]} from this event on")

    def status(self) -> dict[str, Any]:
        """The set in force and every proposal (without its files' text)."""
        return {"active": self.active, "configured": self.base, "live": list(self.live),
                "proposals": [{k: v for k, v in p.items() if k != "files"}
                              for p in self.proposals.values()]}
