"""Backtest a policy set on the recorded log, without touching the live database.

The recorded events (of the last N days, or all) are replayed twice in virtual time into
scratch databases: once as they happened (the policy versions the log made live apply
where they went live) and once with the candidate set in force throughout. Actions end as
their recorded results say (success where none was recorded), so both runs see the same
world. Decisions are matched by id, which derives from what caused them; a flip is a
decision whose verdict differs.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from baton.config import Config
from baton.engine.pipeline import Engine
from baton.errors import InputError
from baton.execution.port import ActionRequest, Connector, ExecResult
from baton.governance.versions import policy_hash, read_policy_dir
from baton.model import Event
from baton.store import open_store
from baton.store.port import Store

#: the connector names a configuration may route to; each is replayed from the record
CONNECTORS = ("sim", "queue", "http", "command")
#: flips listed in full in a report (all are counted)
MAX_FLIPS = 500


class RecordedConnector(Connector):
    """Ends each action as the live run's result record says (done when none)."""

    idempotent = True
    serial = True

    def __init__(self, name: str, statuses: dict[str, str]) -> None:
        self.name = name
        self.statuses = statuses

    def execute(self, request: ActionRequest) -> ExecResult:
        """The recorded result of this idempotency key."""
        status = self.statuses.get(request.idempotency_key, "done")
        return ExecResult(ok=status == "done", detail=f"as recorded: {status}")


def recorded(store: Store) -> tuple[list[Event], dict[str, str], list[dict[str, Any]]]:
    """The processed events in the order they were folded in, each action's recorded
    result status by key, and the decision records (read only)."""
    events: list[Event] = []
    after = 0
    while chunk := store.folded(after=after, limit=2000):
        events += [e for _, _, e in chunk]
        after = chunk[-1][0]
    statuses: dict[str, str] = {}
    decisions: list[dict[str, Any]] = []
    for row in store.ledger_rows(after=0):
        body = orjson.loads(row.body)
        if body.get("record") == "result":
            statuses[str(body["key"])] = str(body["status"])
        elif body.get("record") == "decision":
            decisions.append(body)
    return events, statuses, decisions


def replay(config: Config, events: list[Event], statuses: dict[str, str], path: Path, *,
           frozen: bool) -> list[dict[str, Any]]:
    """Run `events` through a fresh engine on a scratch database; its decision records."""
    store = open_store(path)
    try:
        engine = Engine(config, store=store,
                        connectors={n: RecordedConnector(n, statuses) for n in CONNECTORS},
                        snapshot_every=None)
        engine.frozen_policies = frozen
        for i in range(0, len(events), 1000):
            engine.ingest(events[i:i + 1000])
        engine.process_pending()
        engine.close()
        return [b for b in (orjson.loads(r.body) for r in store.ledger_rows(after=0))
                if b.get("record") == "decision"]
    finally:
        store.close()


def _verdict(d: dict[str, Any]) -> str:
    v = d.get("verdict")
    return str(v["kind"]) if isinstance(v, dict) else "none"


def _class(d: dict[str, Any], granularity: list[str]) -> str:
    action = d.get("action") or {}
    kind = action.get("kind") or next((str(p.get("action")) for p in d.get("proposals", [])),
                                      "-")
    values = {"domain": str(d.get("domain")), "situation": str(d.get("situation_kind")),
              "action": str(kind)}
    return "/".join(values[p] for p in granularity)


def compare(before: list[dict[str, Any]], after: list[dict[str, Any]], *,
            granularity: list[str], approval_minutes: float) -> dict[str, Any]:
    """The flips between two runs' agent decisions, per class, with the estimated effect."""
    old = {d["id"]: d for d in before if d.get("proposals")}
    new = {d["id"]: d for d in after if d.get("proposals")}
    flips: list[dict[str, Any]] = []
    by_class: dict[str, Counter[str]] = {}
    added = removed = 0
    for did in sorted(old.keys() & new.keys(), key=lambda i: (str(old[i]["time"]), i)):
        a, b = old[did], new[did]
        cls = _class(a, granularity)
        c = by_class.setdefault(cls, Counter())
        c["decisions"] += 1
        va, vb = _verdict(a), _verdict(b)
        if va == vb:
            continue
        c["flips"] += 1
        c[f"{va}->{vb}"] += 1
        added += vb == "approval"
        removed += va == "approval"
        flips.append({"decision": did, "time": a["time"], "class": cls, "entity": a["entity"],
                      "from": va, "to": vb,
                      "policies_from": list((a.get("verdict") or {}).get("policy_ids", [])),
                      "policies_to": list((b.get("verdict") or {}).get("policy_ids", []))})

    def spend(ds: dict[str, dict[str, Any]]) -> int:
        return sum(int((d.get("action") or {}).get("amount", 0)) for d in ds.values()
                   if d.get("outcome") == "dispatched")

    s_old, s_new = spend(old), spend(new)
    return {
        "decisions": len(old.keys() & new.keys()),
        "only_before": len(old.keys() - new.keys()), "only_after": len(new.keys() - old.keys()),
        "flip_count": len(flips), "flips": flips[:MAX_FLIPS],
        "by_class": {k: dict(sorted(v.items())) for k, v in sorted(by_class.items())},
        "effect": {"escalations_added": added, "escalations_removed": removed,
                   "spend_before": s_old, "spend_after": s_new, "spend_delta": s_new - s_old,
                   "person_minutes_delta": round((added - removed) * approval_minutes, 1)},
    }


def backtest(store: Store, config: Config, policy_dir: Path, *,
             days: float | None = None) -> dict[str, Any]:
    """Replay the recorded log with the policies of `policy_dir` and say what changes.

    Reads `store` only. Raises PolicyError (file:line) for an invalid set and InputError
    for a bad window."""
    files = read_policy_dir(policy_dir)
    if days is not None and days <= 0:
        raise InputError(f"--days must be more than 0, got {days:g}")
    events, statuses, _ = recorded(store)
    if days is not None and events:
        since = max(e.time for e in events) - timedelta(days=days)
        events = [e for e in events if e.time >= since]
    candidate = config.model_copy(update={"policies": files})
    with tempfile.TemporaryDirectory(prefix="baton-backtest-") as tmp:
        before = replay(config, events, statuses, Path(tmp) / "before.db", frozen=False)
        after = replay(candidate, events, statuses, Path(tmp) / "after.db", frozen=True)
    autonomy = config.settings.autonomy
    report = compare(before, after, granularity=list(autonomy.granularity),
                     approval_minutes=autonomy.ladder.approval_minutes)
    return {"policies": str(policy_dir), "policy_set": policy_hash(files),
            "events": len(events), "days": days,
            "window": {"from": events[0].time.isoformat() if events else None,
                       "to": events[-1].time.isoformat() if events else None},
            **report}
