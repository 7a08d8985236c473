"""Where the database is and how to reach it: ``DATABASE_URL`` when set, else the default database.

The default is whatever the entry point registered with ``use_default_database`` (the command line
registers the embedded PostgreSQL): the embedded system depends on the store, never the reverse.

The application speaks asyncpg only, so plain ``postgresql://`` URLs (as handed out by hosting
providers and Kubernetes secrets) are rewritten to the asyncpg driver here, in one place.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tradeplane.runtime.errors import UserError

DATABASE_URL_ENV = "DATABASE_URL"
ASYNC_DRIVER = "postgresql+asyncpg"
_SYNC_SCHEMES = ("postgres", "postgresql")

T = TypeVar("T")

DefaultDatabase = Callable[[], str]
"""Returns the URL of the database to use when ``DATABASE_URL`` is unset (starting it if need be)."""
_default_database: DefaultDatabase | None = None


class InvalidDatabaseUrl(UserError):
    """The configured URL cannot be parsed; reported without echoing it (it may hold a password)."""


def normalise_url(url: str) -> str:
    """Rewrite ``postgres://``/``postgresql://`` to asyncpg; ``sslmode`` becomes asyncpg's ``ssl``."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidDatabaseUrl(
            "the database URL is not valid; expected postgresql://user:pass@host/db"
        ) from None
    if parsed.drivername in _SYNC_SCHEMES:
        parsed = parsed.set(drivername=ASYNC_DRIVER)
    if parsed.drivername == ASYNC_DRIVER and "sslmode" in parsed.query:
        query = dict(parsed.query)
        query.setdefault("ssl", query.pop("sslmode"))
        parsed = parsed.set(query=query)
    return parsed.render_as_string(hide_password=False)


def masked(url: str) -> str:
    """The URL as people may see it: the password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(invalid database URL)"


class NoDatabase(UserError):
    """Neither ``DATABASE_URL`` nor a default database says where the database is."""


def use_default_database(provider: DefaultDatabase | None) -> None:
    """Make ``provider`` the database used when ``DATABASE_URL`` is unset (None: there is none)."""
    global _default_database  # noqa: PLW0603 - one process-wide choice, made by the entry point
    _default_database = provider


def database_url() -> str:
    """``DATABASE_URL`` if set (normalised), otherwise the registered default database."""
    configured = os.environ.get(DATABASE_URL_ENV)
    if configured:
        return normalise_url(configured)
    if _default_database is None:
        raise NoDatabase(f"{DATABASE_URL_ENV} is not set and this process has no default database")
    return _default_database()


def create_engine(url: str | None = None, *, pool_size: int = 5) -> AsyncEngine:
    """Pre-ping, because pooled connections outlive restarts of the embedded server.

    ``pool_size`` connections are kept open; a burst beyond it opens (and then closes) up to ten
    more, each a new server backend.
    """
    return create_async_engine(normalise_url(url or database_url()), pool_pre_ping=True, pool_size=pool_size)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a private loop in a private thread.

    Sync callers (Alembic commands, the CLI, pytest fixtures) may sit under a running loop or a
    loop that pytest-asyncio installed; ``asyncio.run`` here would fail or replace that loop.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tradeplane-store") as pool:
        return pool.submit(asyncio.run, coro).result()
