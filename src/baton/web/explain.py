"""Why a decision came out as it did, in words, for the API and the decision page."""

from __future__ import annotations

from typing import Any

from baton.governance.policies import PolicyBook


def explanation(record: dict[str, Any], book: PolicyBook) -> dict[str, Any]:
    """A readable account of one decision record: what, why, and which policies."""
    verdict = record.get("verdict") or {}
    lines = [f"{record['situation_kind']} on {record['entity']} "
             f"(domain {record['domain']}), decided by {record['decided_by']}: "
             f"{record['outcome']}."]
    if record.get("rationale"):
        lines.append(f"Rationale: {record['rationale']}")
    for p in record.get("proposals", []):
        lines.append(f"Considered {p['action']} on {p['resource']} (score {p['score']}, "
                     f"verdict {p['verdict']}): {p.get('outcome', '')}")
    if verdict:
        capped = f", capped by {verdict['capped_by']}" if verdict.get("capped_by") else ""
        lines.append(f"Verdict {verdict['kind']}{capped}: {verdict.get('reason', '')}")
    policies = [{"id": pid, "file": book.info[pid].file, "line": book.info[pid].line,
                 "text": book.info[pid].text}
                for pid in verdict.get("policy_ids", []) if pid in book.info]
    ctx = record.get("context", {})
    budget = {k: ctx[k] for k in ("budget_daily", "budget_used", "budget_left", "amount")
              if k in ctx}
    return {"lines": lines, "policies": policies, "budget": budget,
            "ledger": {"seq": record.get("ledger_seq"), "hash": record.get("hash")}}
