"""The ``tradeplane`` command: one Typer app assembled from each plane's commands and the embedded
system's.

It sits beside the folders rather than in ``runtime/`` because it is the one place that joins them:
the planes never import the embedded system, and this entry point is where the embedded PostgreSQL
becomes the default database of every command run without ``DATABASE_URL``.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from tradeplane import __version__
from tradeplane.crds.cli import crds_app
from tradeplane.embedded.cli import cluster_app, register_system_commands
from tradeplane.embedded.postgres import default_database_url
from tradeplane.embedded.postgres_cli import db_app
from tradeplane.runtime.audit.cli import audit_app
from tradeplane.runtime.commands import commands_app
from tradeplane.runtime.features.dataset_cli import build_dataset
from tradeplane.runtime.marketdata.cli_gaps import gaps
from tradeplane.runtime.marketdata.ingest_cli import ingest
from tradeplane.runtime.store.engine import use_default_database
from tradeplane.runtime.venue.sim.cli import venue_sim

use_default_database(default_database_url)

app = typer.Typer(
    name="tradeplane",
    help="Kubernetes-native control plane for reinforcement-learning trading on BingX perpetual futures.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(cluster_app, name="cluster")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(crds_app, name="crds")
register_system_commands(app)
app.command("venue-sim")(venue_sim)
app.command("ingest")(ingest)
app.command("gaps")(gaps)
app.command("build-dataset")(build_dataset)
for _command in commands_app.registered_commands:
    app.registered_commands.append(_command)


def _default_bind_address() -> str:
    # Inside a pod the kubelet probes the pod IP; on a workstation everything stays on loopback.
    return "0.0.0.0" if os.environ.get("KUBERNETES_SERVICE_HOST") else "127.0.0.1"  # noqa: S104


@app.command()
def operator(
    namespace: Annotated[list[str], typer.Option("--namespace", "-n", help="Namespaces to serve.")] = [],  # noqa: B006
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="Serve every namespace.")
    ] = False,
    liveness_port: Annotated[int, typer.Option(help="Port of GET /healthz (0: off).")] = 8080,
    metrics_port: Annotated[int, typer.Option(help="Port of GET /metrics (0: off).")] = 9090,
    bind_address: Annotated[str | None, typer.Option(help="Address for health and metrics.")] = None,
) -> None:
    """Run the kopf operator in the foreground (what the operator Deployment runs)."""
    if not namespace and not all_namespaces:
        raise typer.BadParameter("give --namespace (repeatable) or --all-namespaces")
    from tradeplane.operator.main import run  # noqa: PLC0415 - kopf registers handlers on import

    run(namespace, all_namespaces, liveness_port, metrics_port, bind_address or _default_bind_address())


@app.command()
def version() -> None:
    """Print the tradeplane version."""
    typer.echo(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
