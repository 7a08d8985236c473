"""``tradeplane db upgrade | current | url``: the schema migrations of the database in use.

They act on ``DATABASE_URL`` when it is set, otherwise on the default database the entry point
registered (the embedded server, started if need be). The ``db`` group itself, with the embedded
server's ``up``, ``down`` and ``status``, is assembled by ``embedded.postgres_cli``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tradeplane.runtime.console import console, user_errors
from tradeplane.runtime.store import migrate
from tradeplane.runtime.store.engine import database_url, masked


def upgrade(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply the migrations up to --revision (default: the newest)."""
    with user_errors():
        url = database_url()
        migrate.upgrade(url, revision)
        reached = migrate.current(url) or "(none)"
        console.print(f"{masked(url)} is at revision {reached}", highlight=False)


def current() -> None:
    """Print the revision the database is at, or `(none)` before the first upgrade."""
    with user_errors():
        console.print(migrate.current(database_url()) or "(none)", highlight=False)


def url(
    show_password: Annotated[bool, typer.Option("--show-password", help="Print the password too.")] = False,
) -> None:
    """Print the database URL, with the password masked unless --show-password."""
    with user_errors():
        value = database_url()
    console.print(value if show_password else masked(value), highlight=False)


def register_migration_commands(app: typer.Typer) -> None:
    """Add ``upgrade``, ``current`` and ``url`` to ``app`` (the ``db`` group)."""
    for command in (upgrade, current, url):
        app.command(command.__name__)(command)
