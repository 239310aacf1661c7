"""`baton audit ...`: checkpoints, verification and proofs of the decision ledger."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from baton.cli_shared import Db, err, fail
from baton.errors import BatonError

if TYPE_CHECKING:
    from baton.store.sql import SqlStore

audit_app = typer.Typer(no_args_is_help=True,
                        help="Verify the decision ledger; sign checkpoints; prove records.")
out = Console(highlight=False, soft_wrap=True)


def _store(db: str) -> SqlStore:
    from baton.store import open_store

    return open_store(db, create=False)


@audit_app.command("checkpoint")
def audit_checkpoint(db: Db = "baton.db",
                     out_file: Annotated[Path | None, typer.Option(
                         "--out", help="also write the checkpoint here")] = None) -> None:
    """Sign a checkpoint of the ledger's Merkle tree now and push it to the witnesses."""
    from baton import audit

    try:
        cp = audit.checkpoint(_store(db), db, out_file)
    except BatonError as exc:
        raise fail(exc) from None
    out.print(f"checkpoint: {cp.size} rows, root {cp.root}, {cp.time}, key {cp.key_id}")


@audit_app.command("public-key")
def audit_public_key(db: Db = "baton.db") -> None:
    """Print the public key (PEM) that verifies this database's checkpoints."""
    from baton import audit

    try:
        print(audit.public_key(_store(db), db), end="")
    except BatonError as exc:
        raise fail(exc) from None


@audit_app.command("verify")
def audit_verify(db: Db = "baton.db",
                 checkpoint: Annotated[Path | None, typer.Option(
                     help="a checkpoint held outside, to check consistency with")] = None,
                 ) -> None:
    """Check the chain, the tree, every checkpoint and every table people read against
    the ledger; exit 0 when intact, 1 naming the first bad row otherwise."""
    from baton import audit

    try:
        report = audit.verify(_store(db), db, checkpoint)
    except BatonError as exc:
        raise fail(exc) from None
    covered = ", ".join(f"{n} {k}" for k, n in report.covered.items())
    for note in report.notes:
        err.print(f"note: {note}")
    if report.ok:
        out.print(f"[green]ledger intact[/green]: {report.rows} rows, head {report.head}, "
                  f"tree root {report.root}; checked {covered}")
        return
    err.print(f"[red]ledger broken[/red] at {report.first}")
    for finding in report.findings[1:10]:
        err.print(f"  also: {finding}")
    if len(report.findings) > 10:
        err.print(f"  and {len(report.findings) - 10} more")
    raise typer.Exit(1)


@audit_app.command("prove")
def audit_prove(record_id: Annotated[str, typer.Argument(help="a ledger record id")],
                out_file: Annotated[Path, typer.Option("--out", help="the bundle file")],
                db: Db = "baton.db") -> None:
    """Write a proof bundle: the record, its inclusion proof and a signed checkpoint."""
    from baton import audit

    try:
        bundle = audit.prove(_store(db), db, record_id, out_file)
    except BatonError as exc:
        raise fail(exc) from None
    out.print(f"proof of {record_id} (row {bundle['record']['seq']} of "
              f"{bundle['checkpoint']['size']}) written to {out_file}")


@audit_app.command("check-proof")
def audit_check_proof(bundle: Annotated[Path, typer.Argument(help="a proof bundle file")],
                      key: Annotated[Path, typer.Option("--key", help="PEM public key file")],
                      ) -> None:
    """Verify a proof bundle with no database; exit 0 when it holds, 1 otherwise."""
    from baton import audit

    _checked(lambda: audit.check_proof(bundle, key), "proof fails",
             "[green]proof holds[/green]: the record is in the signed tree")


def _checked(check: Callable[[], str], failed: str, held: str) -> None:
    """Run an offline check: exit 2 on bad input, 1 naming the problem, else print `held`."""
    try:
        problem = check()
    except BatonError as exc:
        raise fail(exc) from None
    if problem:
        err.print(f"[red]{failed}[/red]: {problem}")
        raise typer.Exit(1)
    out.print(held)


@audit_app.command("consistency")
def audit_consistency(old: Annotated[Path, typer.Argument(help="the older checkpoint file")],
                      new: Annotated[Path, typer.Argument(help="the newer checkpoint file")],
                      out_file: Annotated[Path, typer.Option(
                          "--out", help="the consistency bundle file")],
                      db: Db = "baton.db") -> None:
    """Write the proof that NEW's tree extends OLD's (RFC 9162); exit 1 when this ledger
    is not the history both were signed over (rewritten or forked)."""
    from baton import audit
    from baton.ledger.checkpoints import TamperedError

    try:
        bundle = audit.consistency(_store(db), old, new, out_file)
    except TamperedError as exc:
        err.print(f"[red]not consistent[/red]: {exc}")
        raise typer.Exit(1) from None
    except BatonError as exc:
        raise fail(exc) from None
    out.print(f"consistency of {bundle['old']['size']} -> {bundle['new']['size']} rows "
              f"({len(bundle['proof'])} nodes) written to {out_file}")


@audit_app.command("check-consistency")
def audit_check_consistency(
        bundle: Annotated[Path, typer.Argument(help="a consistency bundle file")],
        key: Annotated[Path, typer.Option("--key", help="PEM public key file")],
        old: Annotated[Path | None, typer.Option(
            help="the older checkpoint as you kept it: the bundle must hold it")] = None,
        new: Annotated[Path | None, typer.Option(
            help="the newer checkpoint as you kept it: the bundle must hold it")] = None,
) -> None:
    """Verify a consistency bundle with no database; exit 0 when it holds, 1 otherwise."""
    from baton import audit

    _checked(lambda: audit.check_consistency(bundle, key, old=old, new=new),
             "consistency fails",
             "[green]consistent[/green]: the newer signed tree extends the older")


@audit_app.command("acknowledge")
def audit_acknowledge(by: Annotated[str, typer.Option(help="the operator (a person id)")],
                      comment: str = "", db: Db = "baton.db") -> None:
    """Acknowledge the ledger mismatch that holds processing (recorded in the ledger)."""
    from baton import audit

    try:
        rid = audit.acknowledge(db, by=by, comment=comment)
    except BatonError as exc:
        raise fail(exc) from None
    out.print(f"acknowledged as ledger record {rid}; processing may carry on")
