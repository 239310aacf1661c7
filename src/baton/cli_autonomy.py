"""`baton autonomy ...`: the live autonomy ladder and each decision class's track record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from baton.cli_shared import By, Db, fail, out
from baton.errors import BatonError

autonomy_app = typer.Typer(no_args_is_help=True,
                           help="Autonomy per decision class: track record, levels, changes.")


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.0f}%"


@autonomy_app.command("status")
def autonomy_status(db: Db = "baton.db",
                    json_path: Annotated[Path | None, typer.Option(
                        "--json", help="also write the status as JSON here")] = None) -> None:
    """Each decision class: level, counts, success with its 95 % Wilson interval,
    rejections and overrides, time to effect, person-minutes, recommendations."""
    from baton.app import open_engine
    from baton.autonomy import status

    try:
        report = status(open_engine(db))
    except BatonError as exc:
        raise fail(exc) from None
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2) + "\n")
    table = Table("class", "level", "decisions", "success (95% CI)", "rejected", "override",
                  "effect s", "approval min", "saved min", "note",
                  title="autonomy by decision class")
    for c in report["classes"]:
        low, high = c["success_interval"]
        note = ""
        if c["pending"]:
            note = f"widening to {c['pending']['level']} by {c['pending']['by']} waits"
        elif c["recommendation"]:
            r = c["recommendation"]
            note = f"candidate for {r['to']} (lower {r['wilson_lower']:.2f}, n={r['evidence']})"
        table.add_row(c["class"], c["level"], str(c["decisions"]),
                      f"{_pct(c['success_rate'])} ({low:.2f}-{high:.2f})",
                      _pct(c["rejection_rate"]), _pct(c["override_rate"]),
                      "-" if c["mean_time_to_effect_s"] is None
                      else f"{c['mean_time_to_effect_s']:.0f}",
                      f"{c['approval_person_minutes']:g}", f"{c['person_minutes_saved']:g}", note)
    out.print(table)
    v = report["value"]
    out.print(f"autonomy bought: {v['autonomous']} decisions on their own, about "
              f"{v['person_minutes_saved']:g} person-minutes of approvals saved; "
              f"{v['approve']} went to people ({v['approval_person_minutes']:g} person-minutes)")
    for n in report["notices"]:
        out.print(f"demoted {n['class']} {n['from']} -> {n['to']} at {n['time']} "
                  f"(rate {_pct(n['rate'])}); owner {n['owner'] or '-'} notified")


@autonomy_app.command("set")
def autonomy_set(cls: Annotated[str, typer.Argument(metavar="CLASS",
                                                    help="e.g. reliability/service_down/restart")],
                 level: Annotated[str, typer.Argument(help="observe|shadow|approve|autonomous")],
                 by: By, db: Db = "baton.db",
                 reason: Annotated[str, typer.Option(help="why")] = "") -> None:
    """Narrow a class now, or propose widening it (an admin other than you approves)."""
    from baton.app import open_engine
    from baton.autonomy import change

    try:
        record = change(open_engine(db), cls, level, by=by, reason=reason)
    except BatonError as exc:
        raise fail(exc) from None
    out.print(f"{record['outcome']}: {record['rationale']} ({record['id']})")


@autonomy_app.command("approve")
def autonomy_approve(cls: Annotated[str, typer.Argument(metavar="CLASS")], by: By,
                     db: Db = "baton.db",
                     level: Annotated[str | None, typer.Option(
                         help="the level proposed (default: the one waiting)")] = None,
                     reason: str = "") -> None:
    """Approve a proposed widening (an admin who did not propose it)."""
    from baton.app import open_engine
    from baton.autonomy import change

    try:
        record = change(open_engine(db), cls, level, by=by, reason=reason, approve=True)
    except BatonError as exc:
        raise fail(exc) from None
    out.print(f"{record['outcome']}: {record['rationale']} ({record['id']})")
