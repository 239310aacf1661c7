"""Why a decision came out as it did, in words, for the API and the decision page."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

from baton.config import Config
from baton.governance.policies import PolicyBook
from baton.model.objectives import Objectives


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


#: context values that mean "not known" rather than a figure (no tier, no recent deploy)
SENTINELS = {"tier": -1, "minutes_since_deploy": -1}
ID_PATTERN = re.compile(r"\b(D-[0-9a-f]{16})(/[\w./-]+)?|\b(E-[0-9a-f]{16}(?:\.[0-9a-f]+)?)"
                        r"|(S:[\w.-]+(?::[\w.-]+)+)")


def linked(text: str) -> Markup:
    """`text`, escaped, with every decision, escalation and incident id made a link."""
    out: list[str] = []
    last = 0
    for m in ID_PATTERN.finditer(text):
        out.append(str(escape(text[last:m.start()])))
        word = m.group(0)
        if m.group(1):
            href = f"/decisions/{m.group(1)}"
        elif m.group(3):
            href = f"/decisions/D-{m.group(3)[2:18]}"
        else:
            href = f"/incidents/{m.group(4)}"
        out.append(f'<a href="{escape(href)}">{escape(word)}</a>')
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def readable(value: Any) -> str:
    """A context value in words: yes/no, lists joined, mappings as 'key: value' pairs."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {readable(v)}" for k, v in sorted(value.items()))
    if isinstance(value, list | tuple):
        return ", ".join(readable(v) for v in value) if value else "none"
    return str(value)


def context_rows(context: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, value) rows of the governance context, with "not known" values left out."""
    return [(k.replace("_", " "), readable(v)) for k, v in sorted(context.items())
            if not (k in SENTINELS and v == SENTINELS[k])]


def rationale_text(text: str) -> str:
    """A rationale with Python's True/False turned into words."""
    return re.sub(r"\b(\w+): (True|False)\b",
                  lambda m: f"{m.group(1)}: {'yes' if m.group(2) == 'True' else 'no'}", text)


def verdicts(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Each proposal's verdict from Cedar and after the caps (autonomy, kill switch, budget)."""
    final = record.get("verdict") or {}
    out = []
    for p in record.get("proposals", []):
        outcome = str(p.get("outcome", ""))
        after = p.get("verdict")
        capped_by = final.get("capped_by") if p.get("id") == record.get("chosen") else None
        before = "autonomous" if capped_by else after
        if outcome.startswith("not chosen"):
            after = None  # never capped: a better one was chosen first
        out.append({**p, "before": before, "after": after, "capped_by": capped_by})
    return out


def score_terms(record: dict[str, Any], config: Config,
                objectives: Objectives) -> dict[str, list[tuple[str, float]]]:
    """Per proposal id, the objective terms that add up to its score, where the playbook's
    inputs reproduce the recorded score under the current weights (else left out)."""
    agent = next((a for a in config.playbooks.agents if a.id == record.get("decided_by")),
                 None)
    if agent is None:
        return {}
    candidates = agent.playbooks.get(str(record.get("situation_kind")), [])
    out: dict[str, list[tuple[str, float]]] = {}
    for p in record.get("proposals", []):
        for c in candidates:
            if c.action != p.get("action"):
                continue
            terms = [("customer impact", objectives.customer_impact * c.customer_impact / 100),
                     ("speed", -objectives.speed * c.minutes / 60),
                     ("cost", -objectives.cost * c.cost / 100),
                     ("risk", -objectives.risk * c.risk / 100)]
            if abs(sum(t for _n, t in terms) - float(p.get("score", 0))) < 1e-6:
                out[str(p.get("id"))] = [(n, round(t, 3)) for n, t in terms]
            break
    return out
