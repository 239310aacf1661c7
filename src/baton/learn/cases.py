"""Fold an incident audit log (one row per update) into one `Case` per incident.

Definitions (checked on the ServiceNow log in ../shared/data, 24,918 incidents):

- `open_attrs`: the attributes known when the case opens, taken from the case's FIRST row
  only. Later rows edit some of them (on that log: u_priority_confirmation in 19,124
  cases, u_symptom 1,838, subcategory 1,799, category 1,216, priority 383, impact 315,
  urgency 299, knowledge 208, location 108); those edits happen after the routing
  decision, so they are ignored. Missing values are left out of the dict.
- `first_group`: the first non-missing assignment group in file order (what people chose).
- `final_group`: the last non-missing assignment group in file order. On that log it equals
  the group on the last row in state Resolved (stepping back over missing groups) for all
  24,545 cases with a group, i.e. the group that finally resolved the case.
- `reached_final_at`: when the case first carried its final group: `opened_at` when the
  case's first row already names it, else the update time of the first row that does.
- `reassignments`: the largest value of the reassignment-count column when one is mapped,
  else the number of group changes seen in the rows.
- `closed_at` / `resolved_at`: the last non-missing value in the rows.

Cases without any group (when a group column is mapped), without an open time or not yet
over are skipped (their final group is unknown); pass a `Counter` as `skipped` to learn
how many and why. See `CaseColumns` for logs without open, close or group columns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from itertools import pairwise

SERVICENOW_OPEN_ATTRS: tuple[str, ...] = (
    "caller_id", "opened_by", "sys_created_by", "contact_type", "location", "category",
    "subcategory", "u_symptom", "cmdb_ci", "impact", "urgency", "priority", "knowledge",
    "u_priority_confirmation", "notify",
)
"""Attributes of the ServiceNow log known when a case opens (opened_at is `Case.opened_at`).

Never add resolved_by, closed_code, resolved_at, closed_at, caused_by, problem_id, rfc,
vendor, assigned_to, assignment_group, reassignment_count, sys_mod_count, made_sla or
incident_state: they carry the outcome.
"""

DAY_FIRST = "%d/%m/%Y %H:%M"
MISSING: frozenset[str] = frozenset({"?", ""})


@dataclass(frozen=True)
class CaseColumns:
    """Names of the log columns the fold reads; defaults are the ServiceNow names.

    `opened_at` None: the case opened at its first row's update. `group` None: the log
    names no handling group (cases are kept, with empty groups). With `state` and
    `resolved_states`, a case is over only once a row is in a resolved state, and
    `resolved_at` None means that row's update time; `closed_at` None means resolved.
    """

    case_id: str = "number"
    opened_at: str | None = "opened_at"
    updated_at: str | None = "sys_updated_at"
    group: str | None = "assignment_group"
    resolved_at: str | None = "resolved_at"
    closed_at: str | None = "closed_at"
    reassignment_count: str | None = "reassignment_count"
    open_attrs: tuple[str, ...] = SERVICENOW_OPEN_ATTRS
    state: str | None = None
    resolved_states: frozenset[str] = frozenset()
    waiting_states: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Case:
    """One incident: what was known when it opened and how people routed it."""

    id: str
    opened_at: datetime
    open_attrs: dict[str, str]
    first_group: str
    final_group: str
    closed_at: datetime
    resolved_at: datetime | None = None
    reached_final_at: datetime | None = None
    reassignments: int = 0
    rows: int = field(default=1, compare=False)
    waiting_hours: float = field(default=0.0, compare=False)

    @property
    def outcome_known_at(self) -> datetime:
        """When the final group became known for good: the close time (never before open)."""
        return max(self.closed_at, self.opened_at)


def parse_time(text: str, time_format: str = DAY_FIRST, tz: tzinfo = UTC) -> datetime:
    """Parse a log timestamp (naive ones are read in `tz`) into an aware datetime."""
    value = datetime.strptime(text.strip(), time_format)
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


class _Fold:
    """The running fold of one case's rows."""

    __slots__ = ("attrs", "changes", "closed", "first_update", "groups", "id", "opened",
                 "reassign", "resolved", "resolved_row", "rows", "waits")

    def __init__(self, case_id: str) -> None:
        self.id = case_id
        self.rows = 0
        self.attrs: dict[str, str] | None = None
        self.opened: str | None = None
        self.first_update: str | None = None
        self.groups: list[tuple[str, str | None, int]] = []  # (group, updated_at, row index)
        self.changes = 0
        self.reassign: int | None = None
        self.resolved: str | None = None
        self.resolved_row: str | None = None  # update time of the first row in a resolved state
        self.closed: str | None = None
        self.waits: list[tuple[str | None, bool]] = []  # (updated_at, in a waiting state)


def _value(row: Mapping[str, str | None], column: str | None,
           missing: Collection[str] = MISSING) -> str | None:
    if column is None:
        return None
    text = row.get(column)
    if text is None:
        return None
    text = text.strip()
    return None if text in missing else text


def _add_row(fold: _Fold, row: Mapping[str, str | None], cols: CaseColumns,
             missing: Collection[str]) -> None:
    updated = _value(row, cols.updated_at, missing)
    if fold.attrs is None:
        fold.attrs = {}
        for name in cols.open_attrs:
            value = _value(row, name, missing)
            if value is not None:
                fold.attrs[name] = value
        fold.first_update = updated
    if fold.opened is None:
        fold.opened = _value(row, cols.opened_at, missing)
    group = _value(row, cols.group, missing)
    if group is not None:
        if fold.groups and fold.groups[-1][0] != group:
            fold.changes += 1
        fold.groups.append((group, updated, fold.rows))
    count = _value(row, cols.reassignment_count, missing)
    if count is not None and count.isdigit():
        fold.reassign = max(fold.reassign or 0, int(count))
    state = _value(row, cols.state, missing)
    if state is not None and state in cols.resolved_states and fold.resolved_row is None:
        fold.resolved_row = updated or fold.first_update
    if cols.waiting_states:
        fold.waits.append((updated, state in cols.waiting_states))
    fold.resolved = _value(row, cols.resolved_at, missing) or fold.resolved
    fold.closed = _value(row, cols.closed_at, missing) or fold.closed
    fold.rows += 1


def _waiting_hours(fold: _Fold, time_format: str, tz: tzinfo) -> float:
    """Hours from each row in a waiting state to the next row of the case."""
    total = 0.0
    for (at, waiting), (nxt, _) in pairwise(fold.waits):
        if waiting and at and nxt:
            gap = parse_time(nxt, time_format, tz) - parse_time(at, time_format, tz)
            total += max(0.0, gap.total_seconds() / 3600)
    return total


def _finish(fold: _Fold, cols: CaseColumns, time_format: str, tz: tzinfo,
            skipped: Counter[str]) -> Case | None:
    if not fold.groups and cols.group is not None:
        skipped["no group"] += 1
        return None
    opened_text = fold.opened if cols.opened_at is not None else fold.first_update
    if opened_text is None:
        skipped["no open time"] += 1
        return None
    if cols.resolved_states and fold.resolved_row is None:
        skipped["never in a resolved state"] += 1
        return None
    resolved_text = fold.resolved if cols.resolved_at is not None else fold.resolved_row
    closed_text = fold.closed if cols.closed_at is not None else resolved_text
    if closed_text is None:
        skipped["not closed"] += 1
        return None
    opened = parse_time(opened_text, time_format, tz)
    final = fold.groups[-1][0] if fold.groups else ""
    reached = opened
    for group, updated, index in fold.groups:
        if group == final:
            if index > 0 and updated is not None:
                reached = max(opened, parse_time(updated, time_format, tz))
            break
    return Case(
        id=fold.id,
        opened_at=opened,
        open_attrs=fold.attrs or {},
        first_group=fold.groups[0][0] if fold.groups else "",
        final_group=final,
        closed_at=parse_time(closed_text, time_format, tz),
        resolved_at=None if resolved_text is None else parse_time(resolved_text, time_format,
                                                                  tz),
        reached_final_at=reached,
        reassignments=fold.changes if fold.reassign is None else fold.reassign,
        rows=fold.rows,
        waiting_hours=_waiting_hours(fold, time_format, tz),
    )


def cases_from_rows(
    rows: Iterable[Mapping[str, str | None]],
    columns: CaseColumns | None = None,
    *,
    time_format: str = DAY_FIRST,
    tz: tzinfo = UTC,
    missing: Collection[str] = MISSING,
    skipped: Counter[str] | None = None,
) -> list[Case]:
    """Fold log rows (file order) into cases, in order of each case's first row."""
    cols = columns or CaseColumns()
    folds: dict[str, _Fold] = {}
    for row in rows:
        case_id = _value(row, cols.case_id, missing)
        if case_id is None:
            if skipped is not None:
                skipped["row without case id"] += 1
            continue
        fold = folds.get(case_id)
        if fold is None:
            fold = folds[case_id] = _Fold(case_id)
        _add_row(fold, row, cols, missing)
    reasons: Counter[str] = Counter() if skipped is None else skipped
    cases = [_finish(fold, cols, time_format, tz, reasons) for fold in folds.values()]
    return [case for case in cases if case is not None]
