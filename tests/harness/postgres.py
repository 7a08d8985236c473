"""A real PostgreSQL for the whole test session, and a fresh database per test.

One embedded server per session in its own temp dir; with ``DATABASE_URL`` set, the tests use that
server instead (the role in the URL must be allowed to create databases). Failures to start are
errors, never skips: the database tests must run in CI.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from harness.scratch import scratch_service
from tradeplane.embedded.postgres import EmbeddedPostgres
from tradeplane.runtime.store import APP_ROLE
from tradeplane.runtime.store.engine import DATABASE_URL_ENV, normalise_url, run_sync


@dataclass(frozen=True)
class PostgresServer:
    """The session's server: ``admin_url`` may create and drop databases."""

    admin_url: str
    embedded: EmbeddedPostgres | None

    def database(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)


async def _execute(url: str, statements: list[str], autocommit: bool) -> list[list[tuple[Any, ...]]]:
    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    engine = create_async_engine(url, poolclass=NullPool, **options)
    try:
        async with engine.begin() as connection:
            results = [await connection.execute(text(sql)) for sql in statements]
            return [
                [tuple(row) for row in result.fetchall()] if result.returns_rows else [] for result in results
            ]
    finally:
        await engine.dispose()


def execute(url: str, *statements: str, autocommit: bool = False) -> list[list[tuple[Any, ...]]]:
    """Run statements in one transaction (or autocommitted) from sync code; rows per statement."""
    return run_sync(_execute(url, list(statements), autocommit))


def fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    return execute(url, sql)[0]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    configured = os.environ.get(DATABASE_URL_ENV)
    if configured:
        yield PostgresServer(normalise_url(configured), None)
        return
    with scratch_service(
        "tradeplane-pg-",
        lambda root: EmbeddedPostgres(root / "postgres", report=lambda _m: None),
        EmbeddedPostgres.down,
    ) as server:
        server.up()
        yield PostgresServer(server.url(database="postgres"), server)


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A new, empty database for one test (asyncpg URL), dropped afterwards even if still in use."""
    name = f"t_{uuid.uuid4().hex[:8]}"
    execute(postgres_server.admin_url, f'CREATE DATABASE "{name}"', autocommit=True)
    try:
        yield postgres_server.database(name)
    finally:
        execute(postgres_server.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', autocommit=True)


@pytest.fixture
def app_login(migrated: str, postgres_server: PostgresServer) -> Iterator[str]:
    """A login role that is a member of the application role, dropped afterwards."""
    role = f"audit_app_{uuid.uuid4().hex[:10]}"
    password = secrets.token_urlsafe(24)
    execute(
        postgres_server.admin_url,
        f"CREATE ROLE {role} LOGIN PASSWORD '{password}' IN ROLE {APP_ROLE}",
        autocommit=True,
    )
    try:
        yield make_url(migrated).set(username=role, password=password).render_as_string(hide_password=False)
    finally:
        execute(postgres_server.admin_url, f"DROP ROLE IF EXISTS {role}", autocommit=True)
