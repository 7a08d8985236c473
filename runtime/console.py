"""The consoles every command prints to, and the one way a command reports a user error.

``soft_wrap``: paths, URLs and export lines must stay whole (copy-paste), whatever the terminal width.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from tradeplane.runtime.errors import UserError

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


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
