"""URL handling of the store: normalisation to asyncpg, masking, and where the URL comes from."""

from __future__ import annotations

import asyncio
import importlib
import sys
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from tradeplane.embedded.postgres import EmbeddedPostgres, default_database_url
from tradeplane.runtime.errors import UserError
from tradeplane.runtime.store import engine
from tradeplane.runtime.store.engine import (
    InvalidDatabaseUrl,
    NoDatabase,
    masked,
    normalise_url,
    run_sync,
    use_default_database,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("given_url", "expected"),
    [
        ("postgresql://u:p@db:5432/app", "postgresql+asyncpg://u:p@db:5432/app"),
        ("postgres://u:p@db:5432/app", "postgresql+asyncpg://u:p@db:5432/app"),
        ("postgresql+asyncpg://u:p@db/app", "postgresql+asyncpg://u:p@db/app"),
        ("postgresql://db/app", "postgresql+asyncpg://db/app"),
        ("postgresql+psycopg://u:p@db/app", "postgresql+psycopg://u:p@db/app"),
        ("sqlite:///x.db", "sqlite:///x.db"),
        ("postgres://u:p@db/app?sslmode=require", "postgresql+asyncpg://u:p@db/app?ssl=require"),
        (
            "postgresql+asyncpg://u:p@db/app?ssl=disable&sslmode=require",
            "postgresql+asyncpg://u:p@db/app?ssl=disable",
        ),
    ],
)
def test_normalise_url(given_url: str, expected: str) -> None:
    assert normalise_url(given_url) == expected


def test_normalise_is_idempotent() -> None:
    once = normalise_url("postgres://u:p@db/app?sslmode=require")
    assert normalise_url(once) == once


@settings(derandomize=True, max_examples=200, database=None)
@given(
    user=st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=12),
    password=st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=24),
    port=st.integers(min_value=1, max_value=65535),
    scheme=st.sampled_from(["postgres", "postgresql", "postgresql+asyncpg"]),
)
def test_normalise_keeps_every_credential_and_address_part(
    user: str, password: str, port: int, scheme: str
) -> None:
    original = make_url("postgresql://h/d").set(
        drivername=scheme, username=user, password=password, port=port
    )
    result = make_url(normalise_url(original.render_as_string(hide_password=False)))
    assert result.drivername == "postgresql+asyncpg"
    assert (result.username, result.password, result.host, result.port, result.database) == (
        user,
        password,
        "h",
        port,
        "d",
    )


def test_invalid_url_is_a_user_error_that_does_not_echo_the_url() -> None:
    with pytest.raises(InvalidDatabaseUrl) as info:
        normalise_url("not a url with secret-pw")
    assert isinstance(info.value, UserError)
    assert "secret-pw" not in str(info.value)


def test_masked_hides_only_the_password() -> None:
    shown = masked("postgresql+asyncpg://app:s3cr%40t@db:5432/app")
    assert shown == "postgresql+asyncpg://app:***@db:5432/app"
    assert masked("garbage with s3cret") == "(invalid database URL)"


def test_database_url_prefers_the_environment_and_never_starts_the_embedded_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the embedded server must not be started when DATABASE_URL is set")

    monkeypatch.setattr(EmbeddedPostgres, "up", refuse)
    monkeypatch.setattr(engine, "_default_database", None)
    use_default_database(default_database_url)  # what the command line registers
    monkeypatch.setenv("DATABASE_URL", "postgres://app:pw@db.example:6543/prod")
    assert engine.database_url() == "postgresql+asyncpg://app:pw@db.example:6543/prod"


def test_without_database_url_the_registered_default_database_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(engine, "_default_database", None)
    use_default_database(lambda: "postgresql+asyncpg://app:pw@127.0.0.1:5432/tradeplane")
    assert engine.database_url() == "postgresql+asyncpg://app:pw@127.0.0.1:5432/tradeplane"


def test_without_database_url_or_a_default_database_it_is_a_user_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(engine, "_default_database", None)
    with pytest.raises(NoDatabase, match="DATABASE_URL is not set") as info:
        engine.database_url()
    assert isinstance(info.value, UserError)


def test_the_command_line_makes_the_embedded_server_the_default_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "_default_database", None)
    monkeypatch.delitem(sys.modules, "tradeplane.cli", raising=False)
    importlib.import_module("tradeplane.cli")
    assert engine._default_database is default_database_url


def test_create_engine_uses_asyncpg_with_pre_ping_and_does_not_connect() -> None:
    created = engine.create_engine("postgresql://u:p@127.0.0.1:1/app")
    try:
        assert created.dialect.driver == "asyncpg"
        assert created.url.render_as_string(hide_password=False) == "postgresql+asyncpg://u:p@127.0.0.1:1/app"
        assert created.pool._pre_ping is True
    finally:
        run_sync(created.dispose())


async def test_run_sync_works_under_a_running_loop_and_leaves_it_alone() -> None:
    outer = asyncio.get_running_loop()

    async def where() -> tuple[int, asyncio.AbstractEventLoop]:
        return threading.get_ident(), asyncio.get_running_loop()

    thread, loop = run_sync(where())
    assert thread != threading.get_ident()
    assert loop is not outer
    assert asyncio.get_running_loop() is outer


def test_run_sync_propagates_exceptions() -> None:
    async def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_sync(fail())
