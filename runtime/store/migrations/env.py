"""Alembic environment: migrations run on a sync facade of an asyncpg connection (``run_sync``).

``tradeplane.runtime.store.migrate`` passes its open connection in ``config.attributes``; the
fallback path (an ``alembic`` command with ``sqlalchemy.url`` configured) opens its own.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tradeplane.runtime.store.engine import normalise_url

config = context.config


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


async def _migrate_with_own_engine(url: str) -> None:
    engine = create_async_engine(normalise_url(url), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate)
            await connection.commit()
    finally:
        await engine.dispose()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url; use tradeplane.runtime.store.migrate")
    return url


def run() -> None:
    if context.is_offline_mode():
        context.configure(url=_url(), literal_binds=True, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
    else:
        asyncio.run(_migrate_with_own_engine(_url()))


run()
