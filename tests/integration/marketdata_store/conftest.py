"""An engine on a migrated database for the market-data store tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool


@pytest.fixture
async def engine(migrated: str) -> AsyncIterator[AsyncEngine]:
    # NullPool: every connect() is a separate server connection (races need several).
    created = create_async_engine(migrated, poolclass=NullPool)
    try:
        yield created
    finally:
        await created.dispose()
