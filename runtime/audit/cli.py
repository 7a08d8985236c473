"""``tradeplane audit ...``: verify the stored hash chains.

Reads ``DATABASE_URL`` when set, otherwise the embedded server (started if need be). Exit code 0
means every chain verified; 1 means a chain is broken (one line per broken chain, naming the
object and the first bad seq) or the log could not be read.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import ProgrammingError, SQLAlchemyError

from tradeplane.runtime.audit.store import LogReport, verify_log
from tradeplane.runtime.console import user_errors
from tradeplane.runtime.errors import UserError
from tradeplane.runtime.store.engine import create_engine, database_url, masked, run_sync

console = Console(soft_wrap=True)  # one line per problem, whatever the terminal width
audit_app = typer.Typer(help="The hash-chained audit log of every state transition.", no_args_is_help=True)


@audit_app.callback()
def _group() -> None:
    """The hash-chained audit log of every state transition."""
    # A callback keeps ``verify`` a subcommand even while it is the only one (Typer would
    # otherwise collapse a one-command app into that command).


class AuditError(UserError):
    """The audit log could not be read; the URL in the message is masked."""


def parse_object(value: str) -> tuple[str, str, str]:
    """``KIND/NAMESPACE/NAME`` -> its three parts; anything else is a user error."""
    parts = value.split("/")
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise AuditError(f"--object must be KIND/NAMESPACE/NAME (e.g. Rollout/prod/gold), not {value!r}")
    kind, namespace, name = parts
    return kind, namespace, name


async def _verify(url: str, obj: tuple[str, str, str] | None) -> LogReport:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await verify_log(connection, obj)
    finally:
        await engine.dispose()


def read_report(url: str, obj: tuple[str, str, str] | None) -> LogReport:
    try:
        return run_sync(_verify(url, obj))
    except ProgrammingError as exc:
        if "audit_log" in str(exc) and "does not exist" in str(exc):
            raise AuditError(
                f"{masked(url)} has no audit log yet; run `tradeplane db upgrade` first"
            ) from exc
        raise AuditError(f"reading the audit log failed on {masked(url)}: {exc.orig}") from exc
    except (OSError, SQLAlchemyError) as exc:
        raise AuditError(f"reading the audit log failed on {masked(url)}: {exc}") from exc


@audit_app.command("verify")
def verify(
    object_: Annotated[
        str | None,
        typer.Option(
            "--object",
            metavar="KIND/NS/NAME",
            help="Verify only the chains stored under this object (every uid it has had).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Recompute every hash; say OK, or name the object and the record altered, deleted or reordered."""
    with user_errors():
        selected = parse_object(object_) if object_ is not None else None
        report = read_report(database_url(), selected)
        if selected is not None and not report.chains:
            raise AuditError(f"no audit records for {'/'.join(selected)}")
    for result in report.broken:
        console.print(escape(result.describe()), highlight=False)
    if report.broken:
        raise typer.Exit(1)
    console.print(f"OK ({report.records} records in {len(report.chains)} chains)", highlight=False)
