"""Cedar policy files: split, parsed one statement at a time so errors name file:line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import cedarpy

from baton.errors import PolicyError
from baton.governance.relevance import Relevance

VERDICTS = ("autonomous", "approval")
SEPARATIONS = ("owner",)  # @separation rules: "owner" = nobody of the owning team answers


@dataclass(frozen=True)
class PolicyInfo:
    """One policy: its id, effect, the verdict it grants, and where it was written."""

    id: str
    effect: str  # permit or forbid
    verdict: str | None  # autonomous / approval for permits
    approver: str | None
    reason: str
    file: str
    line: int
    text: str
    separation: tuple[str, ...] = ()  # @separation("owner")
    fallback: str | None = None  # @fallback("reject") or @fallback("action:<kind>")


def split_statements(text: str) -> list[tuple[int, str]]:
    """Split Cedar text into (first line, statement) pairs, respecting strings and comments."""
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    line = 1
    start: int | None = None
    i, n = 0, len(text)
    in_string = False
    while i < n:
        ch = text[i]
        if in_string:
            buf.append(ch)
            if ch == "\\" and i + 1 < n:
                buf.append(text[i + 1])
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        else:
            if start is None and not ch.isspace():
                start = line
            buf.append(ch)
            if ch == '"':
                in_string = True
            elif ch == ";":
                out.append((start or line, "".join(buf).strip()))
                buf, start = [], None
        if ch == "\n":
            line += 1
        i += 1
    rest = "".join(buf).strip()
    if rest:
        out.append((start or line, rest))
    return out


class PolicyBook:
    """Every policy of a configuration, parsed once into a reusable Cedar PolicySet."""

    def __init__(self, files: list[tuple[str, str]]) -> None:
        self.info: dict[str, PolicyInfo] = {}
        static: dict[str, dict[str, Any]] = {}
        for file, text in files:
            for line, stmt in split_statements(text):
                info, body = _parse_one(file, line, stmt)
                if info.id in self.info:
                    first = self.info[info.id]
                    raise PolicyError(f"duplicate @id({info.id!r}), first at "
                                      f"{first.file}:{first.line}", file=file, line=line)
                self.info[info.id] = info
                static[info.id] = body
        if not self.info:
            raise PolicyError("no policies found", file=files[0][0] if files else "policies")
        doc = json.dumps({"staticPolicies": static, "templates": {}, "templateLinks": []})
        self.policy_set = cedarpy.PolicySet.from_json_str(doc)
        self.relevance = Relevance(list(static.values()))

    def __len__(self) -> int:
        return len(self.info)


def _error_line(stmt: str, message: str) -> int:
    """Lines into `stmt` of the text a Cedar error names, else 0."""
    # cedarpy's messages carry no position; they quote the offending text (`x`, 'x') or
    # end with it after a colon. The first quoted piece found in the statement places it.
    import re

    quoted = re.findall(r"`([^`]+)`|'([^']+)'", message)
    pieces = [a or b for a, b in quoted]
    tail = re.search(r":\s*([^\s:;]+)\s*$", message)
    if tail:
        pieces.append(tail.group(1))
    for piece in pieces:
        at = re.search(rf"(?<![\w:=<>!]){re.escape(piece)}(?![\w=<>])", stmt)
        if at:
            return stmt[:at.start()].count("\n")
    return 0


def _parse_one(file: str, line: int, stmt: str) -> tuple[PolicyInfo, dict[str, Any]]:
    if not stmt.endswith(";"):
        raise PolicyError("policy does not end with ';'", file=file, line=line)
    try:
        parsed = json.loads(cedarpy.policies_to_json_str(stmt))
    except ValueError as exc:
        raise PolicyError(f"invalid Cedar: {exc}", file=file,
                          line=line + _error_line(stmt, str(exc))) from exc
    bodies = list(parsed.get("staticPolicies", {}).values())
    if len(bodies) != 1:
        raise PolicyError("expected exactly one policy in this statement (templates are not "
                          "supported)", file=file, line=line)
    body: dict[str, Any] = bodies[0]
    notes: dict[str, str] = body.get("annotations", {})
    pid = notes.get("id")
    if not pid:
        raise PolicyError('policy has no @id("...") annotation; decision records cite it',
                          file=file, line=line)
    effect = body["effect"]
    verdict = notes.get("verdict")
    if effect == "permit":
        if verdict not in VERDICTS:
            raise PolicyError(f"permit {pid!r} needs @verdict(\"autonomous\") or "
                              f"@verdict(\"approval\"), got {verdict!r}", file=file, line=line)
        if verdict == "approval" and not notes.get("approver"):
            raise PolicyError(f"approval permit {pid!r} needs @approver(\"...\") (oncall, "
                              "team_lead, domain_owner or a role)", file=file, line=line)
    elif verdict is not None:
        raise PolicyError(f"forbid {pid!r} cannot carry @verdict; it always denies",
                          file=file, line=line)
    separation, fallback = _escalation_notes(pid, effect, notes, file, line)
    info = PolicyInfo(id=pid, effect=effect, verdict=verdict, approver=notes.get("approver"),
                      reason=notes.get("reason", ""), file=file, line=line, text=stmt,
                      separation=separation, fallback=fallback)
    return info, body


def _escalation_notes(pid: str, effect: str, notes: dict[str, str], file: str,
                      line: int) -> tuple[tuple[str, ...], str | None]:
    """@separation and @fallback: only on permits, only known values."""
    raw_sep, fallback = notes.get("separation"), notes.get("fallback")
    if effect != "permit" and (raw_sep is not None or fallback is not None):
        raise PolicyError(f"forbid {pid!r} cannot carry @separation or @fallback; only an "
                          "escalation from a permit has approvers", file=file, line=line)
    separation = tuple(s.strip() for s in raw_sep.split(",")) if raw_sep is not None else ()
    for rule in separation:
        if rule not in SEPARATIONS:
            raise PolicyError(f"policy {pid!r}: unknown @separation({rule!r}); known: "
                              f"{', '.join(SEPARATIONS)}", file=file, line=line)
    if fallback is not None and fallback != "reject":
        kind = fallback.removeprefix("action:")
        if not fallback.startswith("action:") or not kind or not kind.replace(
                "_", "").replace("-", "").isalnum():
            raise PolicyError(f"policy {pid!r}: @fallback must be \"reject\" or "
                              f"\"action:<kind>\" (e.g. \"action:open_ticket\"), got "
                              f"{fallback!r}", file=file, line=line)
    return separation, fallback
