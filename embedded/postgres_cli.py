"""``tradeplane db ...``: the embedded PostgreSQL (``up``, ``down``, ``status``) and the schema
migrations (``upgrade``, ``current``, ``url``, from ``runtime.store.cli``) in one group.

``up``, ``down`` and ``status`` always mean the embedded server; the migrations act on
``DATABASE_URL`` when it is set, otherwise on the embedded server (started if need be).
"""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.table import Table

from tradeplane.embedded.cli import component_table
from tradeplane.embedded.postgres import DEFAULT_TIMEOUT_SECONDS, EmbeddedPostgres
from tradeplane.runtime.console import console, report_progress, user_errors
from tradeplane.runtime.store.cli import register_migration_commands
from tradeplane.runtime.store.engine import DATABASE_URL_ENV

db_app = typer.Typer(
    help="The database: the embedded PostgreSQL (or DATABASE_URL) and its schema migrations.",
    no_args_is_help=True,
)


def _server() -> EmbeddedPostgres:
    return EmbeddedPostgres(report=report_progress)


def _status_table(server: EmbeddedPostgres) -> tuple[Table, bool]:
    rows = server.status()
    return component_table("PostgreSQL", rows), bool(rows) and all(r.healthy for r in rows)


@db_app.command("up")
def up(
    timeout: Annotated[float, typer.Option(help="Seconds PostgreSQL may take to accept connections.")] = (
        DEFAULT_TIMEOUT_SECONDS
    ),
) -> None:
    """Start the embedded PostgreSQL in the background (reusing it if it already runs)."""
    server = _server()
    with user_errors():
        server.up(timeout=timeout)
        console.print(_status_table(server)[0])
        console.print(f"DATABASE_URL={server.url(masked=True)}", highlight=False)


@db_app.command("down")
def down() -> None:
    """Stop the embedded PostgreSQL; its data directory is kept for the next `up`."""
    with user_errors():
        stopped = _server().down()
    console.print("stopped: postgres (data kept)" if stopped else "the embedded PostgreSQL was not running")


@db_app.command("status")
def status() -> None:
    """The embedded server's pid, port and health; exit code 1 unless it is healthy."""
    server = _server()
    with user_errors():
        table, healthy = _status_table(server)
        if not table.row_count:
            state = "initialised" if server.initialised else "not initialised"
            message = f"the embedded PostgreSQL is not running ({state}; data in {server.data_dir})"
            console.print(message, highlight=False)
            raise typer.Exit(1)
        console.print(table)
        console.print(f"data: {server.data_dir}", highlight=False)
        if os.environ.get(DATABASE_URL_ENV):
            console.print(f"note: {DATABASE_URL_ENV} is set; the application uses that database instead")
    if not healthy:
        raise typer.Exit(1)


register_migration_commands(db_app)
