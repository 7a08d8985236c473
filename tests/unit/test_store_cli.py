"""`tradeplane db url` and error reporting, without any server (the URL comes from DATABASE_URL)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tradeplane.embedded.postgres_cli import db_app

pytestmark = pytest.mark.unit

SECRET = "s3cret-Pw"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_url_masks_the_password_unless_asked(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgres://app:{SECRET}@db.example:6543/prod")
    shown = runner.invoke(db_app, ["url"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.strip() == "postgresql+asyncpg://app:***@db.example:6543/prod"
    assert SECRET not in shown.output

    revealed = runner.invoke(db_app, ["url", "--show-password"])
    assert revealed.exit_code == 0, revealed.output
    assert revealed.output.strip() == f"postgresql+asyncpg://app:{SECRET}@db.example:6543/prod"


def test_an_invalid_url_is_one_red_line_and_exit_code_1(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"nonsense {SECRET}")
    for command in (["url"], ["current"], ["upgrade"]):
        result = runner.invoke(db_app, command)
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: the database URL is not valid")
        assert "Traceback" not in result.output and SECRET not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_without_a_command_it_shows_help(runner: CliRunner) -> None:
    result = runner.invoke(db_app, [])
    for command in ("up", "down", "status", "upgrade", "current", "url"):
        assert command in result.output
