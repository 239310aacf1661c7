"""Incident logs of several shapes, generated at test time, with the truth behind them."""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2025, 3, 3, tzinfo=UTC)


@dataclass(frozen=True)
class Truth:
    """One generated case: what was known at open, who got it first, who resolved it."""

    id: str
    opened: datetime
    category: str
    priority: str
    first: str
    final: str
    moved: datetime
    resolved: datetime


def truths(opens: list[datetime], seed: int) -> list[Truth]:
    """Cases whose category mostly decides the group; people are right first 70% of times."""
    rng = random.Random(seed)
    out = []
    for i, opened in enumerate(sorted(opens)):
        category = rng.randrange(8)
        final = f"Team {category}" if rng.random() < 0.9 else f"Team {rng.randrange(8)}"
        first = final if rng.random() < 0.7 else f"Team {rng.randrange(8, 11)}"
        moved = opened + timedelta(minutes=rng.randrange(20, 240))
        resolved = moved + timedelta(hours=rng.uniform(1, 30))
        out.append(Truth(f"C{i:05d}", opened, f"cat {category}", f"P{rng.randrange(1, 4)}",
                         first, final, moved, resolved))
    return out


def spread(n: int, start: datetime, days: float, seed: int) -> list[datetime]:
    """`n` open times spread at random over `days` from `start` (whole minutes)."""
    rng = random.Random(seed)
    return [start + timedelta(minutes=rng.randrange(int(days * 1440))) for _ in range(n)]


def _sn_time(at: datetime) -> str:
    return f"{at.day}/{at.month}/{at.year} {at:%H:%M}"


SN_HEADER = ("number,incident_state,reassignment_count,assignment_group,opened_at,"
             "sys_updated_at,resolved_at,closed_at,caller_id,opened_by,sys_created_by,"
             "contact_type,location,category,subcategory,u_symptom,cmdb_ci,impact,urgency,"
             "priority,knowledge,u_priority_confirmation,notify")


def servicenow_log(path: Path, cases: list[Truth], *, bom: bool = False,
                   gz: bool = False) -> Path:
    """The ServiceNow audit-log shape: one row per update, day-first times, `?` missing."""
    lines = [SN_HEADER]
    for c in cases:
        rows = [("New", 0, c.first, c.opened)]
        if c.first != c.final:
            rows.append(("Active", 1, c.final, c.moved))
        rows.append(("Resolved", len(rows) - 1, c.final, c.resolved))
        closed = c.resolved + timedelta(days=1)
        rows.append(("Closed", len(rows) - 2, c.final, closed))
        for state, count, group, at in rows:
            lines.append(f"{c.id},{state},{count},{group},{_sn_time(c.opened)},{_sn_time(at)},"
                         f"{_sn_time(c.resolved)},{_sn_time(closed)},Caller {c.id[-2:]},"
                         f"Opener 1,?,Phone,Location 1,{c.category},?,?,?,2 - Medium,"
                         f"2 - Medium,{c.priority},false,false,Do Not Notify")
    text = ("\ufeff" if bom else "") + "\n".join(lines) + "\n"
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


def one_time_log(path: Path, cases: list[Truth], *, group: bool = True) -> Path:
    """One timestamp per row (ISO), no open or close columns; optionally no group column."""
    header = ["ticket", "at", "status"] + (["team"] if group else []) + ["service", "prio"]
    lines = [",".join(header)]
    for c in cases:
        rows = [("open", c.first, c.opened)]
        if c.first != c.final:
            rows.append(("waiting", c.first, c.opened + (c.moved - c.opened) / 2))
            rows.append(("in progress", c.final, c.moved))
        rows.append(("done", c.final, c.resolved))
        for status, team, at in rows:
            cells = [c.id, at.isoformat(), status] + ([team] if group else [])
            lines.append(",".join([*cells, c.category, c.priority]))
    path.write_text("\n".join(lines) + "\n")
    return path


def nested_jsonl_log(path: Path, cases: list[Truth]) -> Path:
    """JSON lines with nested objects; times as epoch-free `YYYY/MM/DD HH:MM` text."""
    lines = []
    for c in cases:
        rows = [("To Do", c.first, c.opened)]
        if c.first != c.final:
            rows.append(("In Progress", c.final, c.moved))
        rows.append(("Done", c.final, c.resolved))
        for status, team, at in rows:
            lines.append(json.dumps({
                "issue": {"key": c.id, "created": f"{c.opened:%Y/%m/%d %H:%M}"},
                "changed": f"{at:%Y/%m/%d %H:%M}",
                "fields": {"status": {"name": status}, "team": {"name": team},
                           "labels": ["a", "b"], "component": {"name": c.category},
                           "priority": {"name": c.priority}}}))
    path.write_text("\n".join(lines) + "\n")
    return path


ONE_TIME_MAPPING = """name: one-time
case: ticket
updated_at: {column: at, format: iso}
state: status
group: team
resolved_states: [done]
waiting_states: [waiting]
open_attributes: [service, prio]
"""

NESTED_MAPPING = """name: nested
format: jsonl
case: issue.key
updated_at: {column: changed, format: "%Y/%m/%d %H:%M"}
opened_at: {column: issue.created, format: "%Y/%m/%d %H:%M"}
resolved_at: {column: changed, format: "%Y/%m/%d %H:%M"}
state: fields.status.name
group: fields.team.name
resolved_states: [Done]
open_attributes: [fields.component.name, fields.priority.name]
class_by: [fields.priority.name]
"""
