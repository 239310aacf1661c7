"""`baton policy ...`: backtest a policy set on the recorded log, propose, approve, roll back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from baton.cli_shared import By, Db, fail, out
from baton.errors import BatonError

policy_app = typer.Typer(no_args_is_help=True,
                         help="Policy sets as reviewed changes, backtested before they go live.")

Dir = Annotated[Path, typer.Argument(metavar="POLICIES_DIR", help="a folder of *.cedar files")]
Days = Annotated[float | None, typer.Option("--days", help="replay only the last N days")]
JsonOut = Annotated[Path | None, typer.Option("--json", help="also write the report here")]


def _print_report(report: dict[str, Any]) -> None:
    e = report["effect"]
    out.print(f"{report['decisions']} decisions compared over {report['events']} events; "
              f"{report['flip_count']} flips; escalations +{e['escalations_added']} "
              f"-{e['escalations_removed']}; spend {e['spend_before']} -> {e['spend_after']}; "
              f"person-minutes {e['person_minutes_delta']:+g}")
    if report["flips"]:
        table = Table("decision", "class", "entity", "from", "to", "policies before",
                      "policies after", title="flips")
        for f in report["flips"]:
            table.add_row(f["decision"], f["class"], f["entity"], f["from"], f["to"],
                          ", ".join(f["policies_from"]) or "-",
                          ", ".join(f["policies_to"]) or "-")
        out.print(table)


@policy_app.command("backtest")
def policy_backtest(policies: Dir, db: Db = "baton.db", days: Days = None,
                    json_path: JsonOut = None) -> None:
    """Replay the recorded events with this policy set and show what would change
    (the live database is only read)."""
    from baton.app import config_for
    from baton.backtest import backtest
    from baton.store import open_store

    try:
        store = open_store(db, create=False)
        try:
            report = backtest(store, config_for(store, None), policies, days=days)
        finally:
            store.close()
    except BatonError as exc:
        raise fail(exc) from None
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2) + "\n")
    _print_report(report)


@policy_app.command("propose")
def policy_propose(policies: Dir, by: By, db: Db = "baton.db", days: Days = None,
                   comment: str = "") -> None:
    """Store a policy set as a proposal, with its backtest, for a second person."""
    from baton.app import open_engine
    from baton.policy_changes import propose

    try:
        done = propose(open_engine(db), policies, by=by, comment=comment, days=days)
    except BatonError as exc:
        raise fail(exc) from None
    _print_report(done["backtest"])
    out.print(f"proposed {done['id']}: {done['record']['rationale']}")


@policy_app.command("approve")
def policy_approve(proposal: Annotated[str, typer.Argument(metavar="ID")], by: By,
                   db: Db = "baton.db", comment: str = "") -> None:
    """Make a proposal live from the next event (an admin who did not propose it)."""
    from baton.app import open_engine
    from baton.policy_changes import approve

    try:
        record = approve(open_engine(db), proposal, by=by, comment=comment)
    except BatonError as exc:
        raise fail(exc) from None
    out.print(f"{record['outcome']}: {record['rationale']}")


@policy_app.command("rollback")
def policy_rollback(by: By, db: Db = "baton.db", comment: str = "") -> None:
    """Return to the policy set in force before the latest one went live."""
    from baton.app import open_engine
    from baton.policy_changes import rollback

    try:
        record = rollback(open_engine(db), by=by, comment=comment)
    except BatonError as exc:
        raise fail(exc) from None
    out.print(f"{record['outcome']}: {record['rationale']}")


@policy_app.command("list")
def policy_list(db: Db = "baton.db") -> None:
    """The policy set in force and every proposal."""
    from baton.app import open_engine

    try:
        status = open_engine(db).policies.status()
    except BatonError as exc:
        raise fail(exc) from None
    out.print(f"in force: {status['active']} (configured: {status['configured']})")
    table = Table("id", "status", "by", "approved by", "flips", "set")
    for p in status["proposals"]:
        table.add_row(p["id"], p["status"], p["by"], p["approved_by"] or "-",
                      str(p["backtest"].get("flip_count", "-")), p["hash"][:12])
    out.print(table)
