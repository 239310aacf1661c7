"""Checks that a replay measures what it claims: real groups, real states, no leaks."""

from __future__ import annotations

from collections import Counter, defaultdict

from baton.learn.cases import Case
from baton.replay.mapping import LoadedMapping

LEAK_ACCURACY = 0.95  # an open-time attribute that names people's first group this often
LEAK_COVERAGE = 0.5  # on at least this share of cases (values seen more than once)


def check_rows(rows: list[dict[str, str]], loaded: LoadedMapping) -> None:
    """Refuse a log whose states never resolve or whose group column is a placeholder."""
    m = loaded.mapping
    states = Counter(r[m.state] for r in rows)
    if rows and not set(m.resolved_states) & set(states):
        seen = ", ".join(repr(s) for s, _ in states.most_common(12))
        raise loaded.doc.error(("resolved_states",), f"no row of the log has a state in "
                               f"{m.resolved_states} (column {m.state!r} holds {seen}), so "
                               "no case is ever over: list the states that end a case")
    if m.group is None or not rows:
        return
    groups = Counter(r[m.group] for r in rows if r[m.group])
    if len(groups) <= 1:
        only = next(iter(groups), "")
        raise loaded.doc.error(("group",), f"column {m.group!r} holds "
                               f"{'only ' + repr(only) if only else 'no value'} on every row: "
                               "a placeholder, not a handling group. Leave `group` out and "
                               "Baton measures time to resolve, reassignments and waiting")
    same = sum(r[m.group] == r[m.state] for r in rows)
    if same >= 0.9 * len(rows):
        raise loaded.doc.error(("group",), f"column {m.group!r} repeats the state column "
                               f"{m.state!r} on {same} of {len(rows)} rows: it is not a "
                               "handling group")


def leaks(cases: list[Case], attributes: list[str]) -> list[str]:
    """Warnings for open-time attributes whose first-row value names people's first group.

    Each case's group is guessed from the other cases with the same value (leave one
    out); an attribute that is right almost always probably describes the handler of the
    row, not the case, and would make the engine look better than it is.
    """
    out = []
    for name in attributes:
        by_value: dict[str, Counter[str]] = defaultdict(Counter)
        for c in cases:
            if name in c.open_attrs and c.first_group:
                by_value[c.open_attrs[name]][c.first_group] += 1
        seen = right = 0
        for counts in by_value.values():
            total = sum(counts.values())
            if total < 2:
                continue
            seen += total
            ranked = counts.most_common(2)
            top, second = ranked[0][1], ranked[1][1] if len(ranked) > 1 else 0
            right += top if top - 1 > second else 0  # without the case itself, still the top
        if len(cases) and seen >= LEAK_COVERAGE * len(cases) and right >= LEAK_ACCURACY * seen:
            out.append(f"open attribute {name!r}: its first-row value names the group people "
                       f"chose first for {right} of {seen} cases ({right / seen:.0%}); it "
                       "probably describes who handled the row, not the case. Remove it "
                       "from open_attributes unless it is truly known when a case opens")
    return out
