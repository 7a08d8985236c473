"""``tradeplane audit verify`` without a database: argument checks and an unreachable server."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from tradeplane.runtime.audit.cli import audit_app, parse_object

pytestmark = pytest.mark.unit

SECRET = "s3cret-Pw"


def test_object_selector_must_have_three_parts() -> None:
    assert parse_object("Rollout/prod/gold-canary") == ("Rollout", "prod", "gold-canary")
    runner = CliRunner()
    for bad in ("Rollout/gold", "Rollout/prod/gold/extra", "/prod/gold", "Rollout/prod/"):
        result = runner.invoke(audit_app, ["verify", "--object", bad])
        assert result.exit_code == 1, result.output
        assert result.output.startswith("error: --object must be KIND/NAMESPACE/NAME")
    assert "verify" in runner.invoke(audit_app, ["--help"]).output


def test_an_unreachable_database_is_one_error_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as placeholder:  # bound but not listening: connections are refused
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
        monkeypatch.setenv("DATABASE_URL", f"postgresql://app:{SECRET}@127.0.0.1:{port}/audit")
        result = CliRunner().invoke(audit_app, ["verify"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(
        f"error: reading the audit log failed on postgresql+asyncpg://app:***@127.0.0.1:{port}/audit"
    )
    assert SECRET not in result.output and "Traceback" not in result.output
