"""The ``tradeplane`` command: one Typer app assembled from each plane's commands."""

from __future__ import annotations

import typer

from tradeplane import __version__
from tradeplane.embedded.cli import cluster_app, register_system_commands
from tradeplane.runtime.audit.cli import audit_app
from tradeplane.runtime.store.cli import db_app

app = typer.Typer(
    name="tradeplane",
    help="Kubernetes-native control plane for reinforcement-learning trading on BingX perpetual futures.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(cluster_app, name="cluster")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
register_system_commands(app)


@app.command()
def version() -> None:
    """Print the tradeplane version."""
    typer.echo(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
