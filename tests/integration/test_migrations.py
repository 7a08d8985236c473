"""Alembic against a real, fresh database per test: upgrade, downgrade, idempotence, and the CLI."""

from __future__ import annotations

import socket
import uuid

import pytest
from harness.postgres import PostgresServer, execute, fetch
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from tradeplane.embedded.postgres_cli import db_app
from tradeplane.runtime.store import APP_ROLE, SCHEMA, migrate

pytestmark = pytest.mark.integration

BASELINE = "0001_baseline"


def _baseline_objects(url: str) -> dict[str, object]:
    """What the baseline promises, as seen from inside the database."""
    [(schemas, roles, usage, default_acls)] = fetch(
        url,
        f"""
        SELECT
            (SELECT count(*) FROM pg_namespace WHERE nspname = '{SCHEMA}'),
            (SELECT count(*) FROM pg_roles WHERE rolname = '{APP_ROLE}' AND NOT rolcanlogin),
            (SELECT count(*) FROM pg_namespace n JOIN pg_roles r ON r.rolname = '{APP_ROLE}'
                WHERE n.nspname = '{SCHEMA}' AND has_schema_privilege(r.oid, n.oid, 'USAGE')),
            (SELECT count(*) FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace
                WHERE n.nspname = '{SCHEMA}' AND d.defaclacl::text LIKE '%{APP_ROLE}=ar/%')
        """,
    )
    return {"schema": schemas, "role": roles, "usage": usage, "default_acl": default_acls}


def test_upgrade_from_empty_creates_schema_and_role(database_url: str) -> None:
    assert migrate.current(database_url) is None
    empty = _baseline_objects(database_url)
    del empty["role"]  # cluster-wide: other tests' databases may have created it already
    assert empty == {"schema": 0, "usage": 0, "default_acl": 0}

    migrate.upgrade(database_url)

    assert migrate.current(database_url) == migrate.head()
    assert _baseline_objects(database_url) == {"schema": 1, "role": 1, "usage": 1, "default_acl": 1}


def test_upgrade_to_the_baseline_revision_stops_there(database_url: str) -> None:
    migrate.upgrade(database_url, BASELINE)
    assert migrate.current(database_url) == BASELINE


def test_default_privileges_cover_tables_created_by_later_migrations(database_url: str) -> None:
    migrate.upgrade(database_url)
    execute(database_url, f"CREATE TABLE {SCHEMA}.probe (id int)")
    privileges = fetch(
        database_url,
        f"""
        SELECT has_table_privilege('{APP_ROLE}', '{SCHEMA}.probe', 'SELECT'),
               has_table_privilege('{APP_ROLE}', '{SCHEMA}.probe', 'INSERT'),
               has_table_privilege('{APP_ROLE}', '{SCHEMA}.probe', 'UPDATE'),
               has_table_privilege('{APP_ROLE}', '{SCHEMA}.probe', 'DELETE')
        """,
    )
    assert privileges == [(True, True, False, False)]
    execute(database_url, f"DROP TABLE {SCHEMA}.probe")


def test_downgrade_to_base_then_upgrade_again(database_url: str) -> None:
    migrate.upgrade(database_url)
    migrate.downgrade(database_url, "base")

    assert migrate.current(database_url) is None
    assert _baseline_objects(database_url) == {"schema": 0, "role": 1, "usage": 0, "default_acl": 0}
    assert fetch(database_url, "SELECT count(*) FROM pg_default_acl") == [(0,)]

    migrate.upgrade(database_url)
    assert migrate.current(database_url) == migrate.head()
    assert _baseline_objects(database_url) == {"schema": 1, "role": 1, "usage": 1, "default_acl": 1}


def test_upgrade_twice_is_a_noop(database_url: str) -> None:
    migrate.upgrade(database_url)
    snapshot_sql = f"SELECT oid FROM pg_namespace WHERE nspname = '{SCHEMA}'"
    before = fetch(database_url, snapshot_sql)

    migrate.upgrade(database_url)

    assert fetch(database_url, snapshot_sql) == before, "the schema was not recreated"
    assert fetch(database_url, "SELECT version_num FROM alembic_version") == [(migrate.head(),)]


def test_downgrade_succeeds_while_another_database_still_uses_the_role(
    database_url: str, postgres_server: PostgresServer
) -> None:
    other = f"t_{uuid.uuid4().hex[:8]}"
    execute(postgres_server.admin_url, f'CREATE DATABASE "{other}"', autocommit=True)
    try:
        other_url = postgres_server.database(other)
        migrate.upgrade(database_url)
        migrate.upgrade(other_url)

        migrate.downgrade(database_url, "base")

        assert _baseline_objects(database_url)["schema"] == 0
        assert _baseline_objects(other_url) == {"schema": 1, "role": 1, "usage": 1, "default_acl": 1}
    finally:
        execute(postgres_server.admin_url, f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)', autocommit=True)


def test_an_unreachable_database_is_a_migration_error(database_url: str) -> None:
    with socket.socket() as placeholder:  # bound but not listening: connections are refused
        placeholder.bind(("127.0.0.1", 0))
        url = make_url(database_url).set(host="127.0.0.1", port=placeholder.getsockname()[1])
        with pytest.raises(migrate.MigrationError) as info:
            migrate.upgrade(url.render_as_string(hide_password=False))
    assert "upgrade to head failed" in str(info.value)
    if url.password:
        assert str(url.password) not in str(info.value)


def test_db_cli_upgrade_and_current(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()

    before = runner.invoke(db_app, ["current"])
    assert before.exit_code == 0, before.output
    assert before.output.strip() == "(none)"

    upgraded = runner.invoke(db_app, ["upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"is at revision {migrate.head()}" in upgraded.output

    after = runner.invoke(db_app, ["current"])
    assert after.exit_code == 0 and after.output.strip() == migrate.head()

    again = runner.invoke(db_app, ["upgrade", "--revision", "head"])
    assert again.exit_code == 0 and migrate.current(database_url) == migrate.head()

    unknown = runner.invoke(db_app, ["upgrade", "--revision", "9999_missing"])
    assert unknown.exit_code == 1
    assert unknown.output.startswith("error: upgrade to 9999_missing failed")
    assert "Traceback" not in unknown.output

    password = make_url(database_url).password
    for result in (upgraded, unknown, runner.invoke(db_app, ["url"])):
        assert not password or str(password) not in result.output
