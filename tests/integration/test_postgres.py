"""The embedded PostgreSQL as a process: restarts keep data, `down` leaves nothing, failures explain.

These tests own a server of their own (in a temp dir) because they stop and break it; the session
server of ``harness.postgres`` is left alone.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from harness.postgres import execute, fetch
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from tradeplane.embedded.postgres import SYSTEM_USER, EmbeddedPostgres, default_database_url
from tradeplane.embedded.postgres_cli import db_app
from tradeplane.runtime.host.processes import ComponentFailed
from tradeplane.runtime.store import engine, migrate
from tradeplane.runtime.store.engine import database_url, use_default_database

pytestmark = pytest.mark.integration


def _quiet(_message: str) -> None:
    pass


@pytest.fixture(scope="module")
def home() -> Iterator[Path]:
    """A TRADEPLANE_HOME whose default ``postgres`` root is the server under test."""
    root = Path(tempfile.mkdtemp(prefix="tradeplane-pg-"))
    yield root
    EmbeddedPostgres(root / "postgres", report=_quiet).down()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg(home: Path) -> EmbeddedPostgres:
    server = EmbeddedPostgres(home / "postgres", report=_quiet)
    server.up()
    return server


@pytest.fixture
def cli_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRADEPLANE_HOME", str(home))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(engine, "_default_database", None)
    use_default_database(default_database_url)  # what the command line registers
    return home


def _processes_of(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["status"] != psutil.STATUS_ZOMBIE and str(data_dir) in " ".join(
            proc.info["cmdline"] or []
        ):
            found.append(proc)
    return found


def test_data_survives_down_and_up_on_the_same_port(pg: EmbeddedPostgres) -> None:
    url = pg.url()
    execute(url, "DROP TABLE IF EXISTS survivors", "CREATE TABLE survivors (id int, name text)")
    execute(url, "INSERT INTO survivors VALUES (1, 'kept across restarts')")
    before = pg.load()
    assert before is not None

    assert pg.down() == ["postgres"]
    assert pg.load() is None and pg.status() == []
    after = pg.up()

    assert after.process.pid != before.process.pid
    assert after.port == before.port
    assert fetch(pg.url(), "SELECT id, name FROM survivors") == [(1, "kept across restarts")]


def test_down_leaves_no_postgres_process_of_the_data_dir(pg: EmbeddedPostgres) -> None:
    state = pg.load()
    assert state is not None
    postmaster = psutil.Process(state.process.pid)
    family = [postmaster, *postmaster.children(recursive=True)]
    assert len(family) > 1, "a running postgres has background processes"
    assert [p.pid for p in _processes_of(pg.data_dir)] == [postmaster.pid]

    assert pg.down() == ["postgres"]

    alive = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == []
    assert _processes_of(pg.data_dir) == []
    assert not (pg.data_dir / "postmaster.pid").exists(), "postgres shut down cleanly"
    assert (pg.data_dir / "PG_VERSION").is_file(), "the data directory is kept"
    assert not pg.layout.state.exists()
    assert pg.down() == []


def test_up_reuses_a_healthy_server(pg: EmbeddedPostgres) -> None:
    first = pg.load()
    assert first is not None
    assert pg.up() == first, "same process record: nothing was restarted"
    [row] = pg.status()
    assert (row.name, row.pid, row.port, row.running, row.healthy) == (
        "postgres",
        first.process.pid,
        first.port,
        True,
        True,
    )


def test_a_killed_server_is_replaced_and_committed_data_survives(pg: EmbeddedPostgres) -> None:
    execute(
        pg.url(),
        "DROP TABLE IF EXISTS crashed",
        "CREATE TABLE crashed (v int)",
        "INSERT INTO crashed VALUES (7)",
    )
    before = pg.load()
    assert before is not None
    os.kill(before.process.pid, signal.SIGKILL)
    psutil.Process(before.process.pid).wait(timeout=30)
    [row] = pg.status()
    assert not row.running and not row.healthy

    after = pg.up()
    assert after.process.pid != before.process.pid
    assert fetch(pg.url(), "SELECT v FROM crashed") == [(7,)]


def test_server_runs_unprivileged_and_listens_on_loopback_only(pg: EmbeddedPostgres) -> None:
    state = pg.load()
    assert state is not None
    postmaster = psutil.Process(state.process.pid)
    expected_uid = pwd.getpwnam(SYSTEM_USER).pw_uid if os.geteuid() == 0 else os.geteuid()
    assert postmaster.uids().effective == expected_uid
    assert pg.data_dir.stat().st_uid == expected_uid
    listening = [c for c in postmaster.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert listening and {c.laddr.ip for c in listening} == {"127.0.0.1"}
    assert {c.laddr.port for c in listening} == {state.port}
    assert (Path(state.socket_dir) / f".s.PGSQL.{state.port}").is_socket()


def test_application_database_exists(pg: EmbeddedPostgres) -> None:
    assert fetch(pg.url(), "SELECT current_database(), pg_encoding_to_char(encoding) FROM pg_database "
                 "WHERE datname = current_database()") == [("tradeplane", "UTF8")]  # fmt: skip


@pytest.mark.parametrize("breakage", ["bad-flag", "garbage-in-auto-conf"])
def test_a_server_that_cannot_start_raises_component_failed_with_the_log_tail(
    pg: EmbeddedPostgres, breakage: str
) -> None:
    pg.down()
    config = pg.data_dir / "postgresql.auto.conf"
    original = config.read_bytes()
    if breakage == "bad-flag":
        broken = EmbeddedPostgres(pg.layout.root, report=_quiet, settings={"shared_buffers": "banana"})
        expected = 'invalid value for parameter "shared_buffers": "banana"'
    else:
        broken = EmbeddedPostgres(pg.layout.root, report=_quiet)
        config.write_bytes(original + b"this line is = not valid config\n")
        expected = "syntax error in file"
    try:
        with pytest.raises(ComponentFailed) as info:
            broken.up(timeout=30)
    finally:
        config.write_bytes(original)
    message = str(info.value)
    assert "postgres exited before it was accepting connections" in message
    assert expected in message
    assert str(pg.layout.log) in message
    assert broken.load() is None and broken.status() == []
    assert _processes_of(pg.data_dir) == []
    assert pg.up().port > 0, "the server starts again once the setting is fixed"


def test_the_password_stays_private(pg: EmbeddedPostgres, cli_home: Path) -> None:
    password = pg.layout.password.read_text().strip()
    assert len(password) >= 32
    assert stat.S_IMODE(pg.layout.password.stat().st_mode) == 0o600
    assert make_url(pg.url()).password == password
    assert password not in pg.url(masked=True)
    assert password not in pg.layout.state.read_text()
    assert password not in pg.layout.log.read_text()
    assert password not in repr(pg.status())
    state = pg.load()
    assert state is not None
    assert password not in " ".join(psutil.Process(state.process.pid).cmdline())

    runner = CliRunner()
    for command in (["status"], ["url"], ["up"]):
        result = runner.invoke(db_app, command)
        assert result.exit_code == 0, result.output
        assert password not in result.output, command
    assert "postgres:***@127.0.0.1" in runner.invoke(db_app, ["url"]).output
    revealed = runner.invoke(db_app, ["url", "--show-password"])
    assert revealed.exit_code == 0
    assert revealed.output.strip() == pg.url()


def test_a_wrong_password_is_a_masked_migration_error(pg: EmbeddedPostgres) -> None:
    wrong = make_url(pg.url()).set(password="wrong-Pa55").render_as_string(hide_password=False)
    with pytest.raises(migrate.MigrationError) as info:
        migrate.current(wrong)
    assert "password authentication failed" in str(info.value)
    assert "wrong-Pa55" not in str(info.value)


def test_database_url_without_environment_is_the_embedded_server(
    pg: EmbeddedPostgres, cli_home: Path
) -> None:
    url = database_url()
    assert url == pg.url()
    assert fetch(url, "SELECT current_database()") == [("tradeplane",)]


def test_db_cli_down_status_up(pg: EmbeddedPostgres, cli_home: Path) -> None:
    runner = CliRunner()
    stopped = runner.invoke(db_app, ["down"])
    assert stopped.exit_code == 0 and "stopped: postgres" in stopped.output
    status = runner.invoke(db_app, ["status"])
    assert status.exit_code == 1
    assert "not running (initialised" in status.output
    started = runner.invoke(db_app, ["up"])
    assert started.exit_code == 0, started.output
    assert "healthy" in started.output
    running = runner.invoke(db_app, ["status"])
    assert running.exit_code == 0 and "healthy" in running.output


def test_a_deep_root_puts_the_socket_in_a_short_directory() -> None:
    base = Path(tempfile.mkdtemp(prefix="tradeplane-pg-"))
    root = base / ("d" * 60) / ("e" * 40) / "postgres"
    server = EmbeddedPostgres(root, report=_quiet)
    try:
        state = server.up()
        socket_dir = Path(state.socket_dir)
        assert not socket_dir.is_relative_to(root)
        socket = socket_dir / f".s.PGSQL.{state.port}"
        assert socket.is_socket() and len(os.fsencode(socket)) <= 107
        assert fetch(server.url(), "SELECT 1") == [(1,)]
        server.down()
        assert not socket_dir.exists()
    finally:
        server.down()
        shutil.rmtree(base, ignore_errors=True)
