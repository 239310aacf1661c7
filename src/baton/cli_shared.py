"""What the `baton` command groups in their own modules share: options and error output."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from baton.errors import BatonError

# piped output is not wrapped at 80 columns: tables stay readable in files and pagers
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)

Db = Annotated[str, typer.Option("--db", help="SQLite path or postgresql:// URL",
                                 envvar="BATON_DB")]
By = Annotated[str, typer.Option("--by", help="person id")]


def fail(exc: BatonError) -> typer.Exit:
    """Print the error and give the exit to raise (status 2)."""
    err.print(f"[red]error:[/red] {exc}")
    return typer.Exit(2)
