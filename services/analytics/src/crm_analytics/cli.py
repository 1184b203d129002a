"""`crm analytics ...`: the analytics service's own commands (entry point group crm.commands).
Imports stay light here: `crm` loads this module on every start."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

app = typer.Typer(help="Analytics read models.", no_args_is_help=True)


@app.callback()
def analytics() -> None:
    """Analytics read models."""


@app.command()
def rebuild(
    keep_old: Annotated[
        bool, typer.Option("--keep-old", help="keep the replaced tables in a retired schema")
    ] = False,
) -> None:
    """Replay every topic from its start into fresh tables, switch over without downtime, and
    print the reconciliation (exit status 1 when a table's count differs from the live one)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
    from rich.table import Table

    from crm_analytics.handlers import SUBSCRIPTION
    from crm_analytics.main import spec
    from crm_analytics.rebuild import rebuild as run_rebuild

    console = Console()
    columns = (BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress("[progress.description]{task.description}", *columns, console=console) as bar:
        task = bar.add_task("replaying events", total=None)

        def advance(read: int, total: int) -> None:
            bar.update(task, completed=read, total=total)

        result = asyncio.run(
            run_rebuild(spec.settings(), SUBSCRIPTION, on_progress=advance, keep_old=keep_old)
        )
    table = Table("table", "rebuilt rows", "live rows at the switch", "difference")
    for count in result.tables:
        diff = count.rebuilt - count.live
        table.add_row(
            count.table, str(count.rebuilt), str(count.live), f"{diff:+d}" if diff else ""
        )
    console.print(table)
    console.print(
        f"events read {result.events_read}, applied {result.events_applied} "
        f"(the rest were duplicates or types analytics does not read)"
    )
    if result.retired_schema:
        console.print(f"the replaced tables are kept in schema {result.retired_schema}")
    if not result.matches:
        console.print("[yellow]some tables differ from the live ones (see above)[/yellow]")
        raise typer.Exit(1)
