"""Alembic, driven from code: ``upgrade``, ``downgrade`` and ``current`` against an explicit URL.

There is no ``alembic.ini``: the configuration is built here with ``script_location`` pointing at
the ``migrations`` folder beside this file, and the connection is handed to ``env.py`` through
``Config.attributes``, so the URL always comes from the caller and never from a global.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tradeplane.runtime.errors import UserError
from tradeplane.runtime.store.engine import masked, normalise_url, run_sync

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

T = TypeVar("T")


class MigrationError(UserError):
    """The database was unreachable or a migration failed; the URL in the message is masked."""


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The single head revision; more than one head is a bug in the migration history."""
    found = ScriptDirectory.from_config(config()).get_current_head()
    if found is None:  # pragma: no cover - the baseline always exists
        raise MigrationError("no migration revisions found")
    return found


async def _on_connection(url: str, work: Callable[[Connection], T]) -> T:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


def _run(url: str, action: str, work: Callable[[Connection], T]) -> T:
    normalised = normalise_url(url)
    try:
        return run_sync(_on_connection(normalised, work))
    except (OSError, SQLAlchemyError, CommandError) as exc:
        raise MigrationError(f"{action} failed on {masked(normalised)}: {exc}") from exc


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate up to ``revision``, in one transaction: a failing revision leaves nothing behind."""
    _run(url, f"upgrade to {revision}", lambda conn: command.upgrade(config(conn), revision))


def downgrade(url: str, revision: str) -> None:
    """Migrate down to ``revision`` (``base`` removes everything the migrations created)."""
    _run(url, f"downgrade to {revision}", lambda conn: command.downgrade(config(conn), revision))


def current(url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    return _run(url, "reading the revision", lambda c: MigrationContext.configure(c).get_current_revision())
