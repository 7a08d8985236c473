"""``tradeplane cluster ...`` and the whole-system ``tradeplane up | down | status`` commands."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tradeplane.embedded import binaries
from tradeplane.embedded.cluster import DEFAULT_TIMEOUT_SECONDS, ComponentStatus, LocalCluster
from tradeplane.runtime.console import console, report_progress, user_errors
from tradeplane.runtime.kubectl import EXTERNAL_KUBECONFIG_ENV, external_kubeconfig, kubectl, readyz

cluster_app = typer.Typer(
    help="The local Kubernetes control plane (or an existing cluster).", no_args_is_help=True
)

KubeconfigOption = Annotated[
    Path | None,
    typer.Option(
        "--kubeconfig",
        help=f"Use this existing cluster instead of the local one (also {EXTERNAL_KUBECONFIG_ENV}).",
        show_default=False,
    ),
]
WorkloadsOption = Annotated[
    bool,
    typer.Option(
        "--workloads/--no-workloads",
        help="Also run kube-controller-manager, kube-scheduler and kwok so Deployments and Jobs run.",
    ),
]
TimeoutOption = Annotated[float, typer.Option(help="Seconds each component may take to become healthy.")]


def export_line(kubeconfig: Path) -> str:
    return f"export KUBECONFIG={shlex.quote(str(kubeconfig))}"


def component_table(title: str, rows: list[ComponentStatus]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("COMPONENT", "PID", "PORT", "HEALTH"):
        table.add_column(column, no_wrap=True)
    table.add_column("ENDPOINT", overflow="fold")  # an endpoint is for copying: fold it, never cut it
    for row in rows:
        health = (
            "[green]healthy[/green]"
            if row.healthy
            else ("[yellow]unhealthy[/yellow]" if row.running else "[red]stopped[/red]")
        )
        table.add_row(row.name, str(row.pid or "-"), str(row.port or "-"), health, row.endpoint)
    return table


def _external(kubeconfig: Path | None) -> Path | None:
    with user_errors():
        return external_kubeconfig(kubeconfig)


def _show_external(path: Path, verb: str) -> None:
    state = readyz(path)
    console.print(f"using the existing cluster from {path} ({verb}); /readyz: {state}", highlight=False)
    if state != "ok":
        raise typer.Exit(1)


@cluster_app.command("build")
def build() -> None:
    """Build (once) and verify the cached Kubernetes, etcd and kwok binaries."""
    with user_errors():
        for bundle in binaries.ensure_all(report_progress).values():
            console.print(
                f"{bundle.bundle.name} {bundle.bundle.version}: {bundle.directory}", highlight=False
            )


@cluster_app.command("up")
def up(
    workloads: WorkloadsOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_SECONDS,
    kubeconfig: KubeconfigOption = None,
) -> None:
    """Start the local control plane in the background (reusing it if it already runs)."""
    external = _external(kubeconfig)
    if external:
        _show_external(external, "nothing to start")
        return
    cluster = LocalCluster(report=report_progress)
    with user_errors():
        cluster.up(workloads=workloads, timeout=timeout)
    console.print(component_table("local control plane", cluster.status()))
    console.print(export_line(cluster.kubeconfig), highlight=False, soft_wrap=True)


@cluster_app.command("down")
def down(kubeconfig: KubeconfigOption = None) -> None:
    """Stop exactly the processes `up` started and remove the cluster's runtime state."""
    if _external(kubeconfig):
        console.print("an existing cluster is selected; tradeplane never stops clusters it did not start")
        return
    with user_errors():
        stopped = LocalCluster(report=report_progress).down()
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "no local control plane was running")


@cluster_app.command("status")
def status(kubeconfig: KubeconfigOption = None) -> None:
    """Each component with pid, port and health; exit code 1 unless all are healthy."""
    external = _external(kubeconfig)
    if external:
        _show_external(external, "external")
        return
    cluster = LocalCluster(report=report_progress)
    rows = cluster.status()
    if not rows:
        console.print("no local control plane is running (start one with `tradeplane cluster up`)")
        raise typer.Exit(1)
    console.print(component_table("local control plane", rows))
    console.print(export_line(cluster.kubeconfig), highlight=False, soft_wrap=True)
    if not all(r.healthy for r in rows):
        raise typer.Exit(1)


@cluster_app.command("kubeconfig")
def kubeconfig_path() -> None:
    """Print the `export KUBECONFIG=...` line of the local control plane."""
    console.print(
        export_line(LocalCluster(report=report_progress).kubeconfig), highlight=False, soft_wrap=True
    )


def register_system_commands(app: typer.Typer) -> None:
    """``tradeplane up | down | status``: everything ``make demo`` runs, in the background."""
    from tradeplane.embedded.system import EmbeddedSystem  # noqa: PLC0415 - keeps `cluster` free of DB imports

    def show(system: EmbeddedSystem) -> bool:
        current = system.status()
        console.print(component_table("local control plane", current.cluster))
        console.print(component_table("PostgreSQL", current.database))
        console.print(component_table("operator", current.operator))
        console.print(component_table("venue simulator", current.venue))
        if current.cluster and all(row.healthy for row in current.cluster):
            listing = kubectl(["get", "tradeplane", "--all-namespaces"], current.kubeconfig, check=False)
            console.print(listing.stdout.rstrip() or "no tradeplane objects yet", highlight=False)
        if current.database_url:
            console.print(f"DATABASE_URL={current.database_url}", highlight=False, soft_wrap=True)
        console.print(export_line(current.kubeconfig), highlight=False, soft_wrap=True)
        return current.healthy

    def system_up(
        workloads: WorkloadsOption = True, timeout: TimeoutOption = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        """Bring the whole embedded system up in the background and return once it is ready."""
        system = EmbeddedSystem(report=report_progress)
        with user_errors():
            system.up(workloads=workloads, timeout=timeout)
        if not show(system):
            raise typer.Exit(1)

    def system_down() -> None:
        """Stop everything `tradeplane up` started, and nothing else."""
        with user_errors():
            stopped = EmbeddedSystem(report=report_progress).down()
        console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")

    def system_status() -> None:
        """Status of every embedded component; exit code 1 unless all are healthy."""
        if not show(EmbeddedSystem(report=report_progress)):
            raise typer.Exit(1)

    commands: dict[str, Callable[..., None]] = {"up": system_up, "down": system_down, "status": system_status}
    for name, command in commands.items():
        app.command(name)(command)
