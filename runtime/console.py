"""The consoles every command prints to, and the one way a command reports a user error.

``soft_wrap``: paths, URLs and export lines must stay whole (copy-paste), whatever the terminal width.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from tradeplane.runtime.errors import UserError

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def report_progress(message: str) -> None:
    """A long-running step's progress line, dimmed on stderr; the message is printed as written."""
    errors.print(f"[dim]{escape(message)}[/dim]", highlight=False)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn expected failures into one clear message and exit code 1 instead of a traceback."""
    try:
        yield
    except UserError as exc:
        errors.print(f"[bold red]error:[/bold red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        errors.print("interrupted; run the command again to resume", highlight=False)
        raise typer.Exit(130) from None
