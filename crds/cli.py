"""``tradeplane crds generate [--check] | install [--kubeconfig PATH]``.

``install`` is a server-side apply of the committed YAML (the same bytes GitOps would apply) followed
by a wait for ``Established`` and for discovery to serve the group, so the next ``kubectl apply`` of
a tradeplane object cannot race the API server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tradeplane.crds import generate
from tradeplane.crds.common import GROUP
from tradeplane.crds.registry import KINDS
from tradeplane.runtime.console import user_errors
from tradeplane.runtime.errors import UserError
from tradeplane.runtime.host.paths import local_kubeconfig
from tradeplane.runtime.kubectl import EXTERNAL_KUBECONFIG_ENV, external_kubeconfig, kubectl

FIELD_MANAGER = "tradeplane-crds"
console = Console(soft_wrap=True)
crds_app = typer.Typer(help="The tradeplane.io CustomResourceDefinitions.", no_args_is_help=True)


def install(
    kubeconfig: Path,
    timeout: float = 60.0,
    field_manager: str = FIELD_MANAGER,
    report: Callable[[str], None] = lambda _m: None,
) -> None:
    """Server-side apply every generated CRD, then wait until each is Established and discoverable."""
    files = generate.crd_files()
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise UserError(f"generated CRDs are missing ({', '.join(missing)}); run `tradeplane crds generate`")
    for path in files:
        kubectl(
            [
                "apply",
                "--server-side",
                "--force-conflicts",
                f"--field-manager={field_manager}",
                "-f",
                str(path),
            ],
            kubeconfig,
        )
        report(f"applied {path.name}")
    kubectl(
        [
            "wait",
            "--for=condition=Established",
            f"--timeout={int(timeout)}s",
            *(f"crd/{i.crd_name}" for i in KINDS),
        ],
        kubeconfig,
        timeout=timeout + 30,
    )
    expected = {info.plural for info in KINDS}
    deadline = time.monotonic() + timeout
    served: set[str] = set()
    while True:
        result = kubectl(["api-resources", f"--api-group={GROUP}", "-o", "name"], kubeconfig, check=False)
        if result.returncode == 0:
            served = {line.split(".", 1)[0] for line in result.stdout.split()}
            if expected <= served:
                return
        if time.monotonic() > deadline:
            raise UserError(f"discovery does not serve {sorted(expected - served)} after {timeout:.0f}s")
        time.sleep(0.2)  # poll interval under a deadline


def _kubeconfig(explicit: Path | None) -> Path:
    chosen = external_kubeconfig(explicit)
    if chosen is not None:
        return chosen
    local = local_kubeconfig()
    if not local.is_file():
        raise UserError("no local control plane is running; start one with `tradeplane cluster up`")
    return local


@crds_app.command("generate")
def generate_command(
    check: Annotated[
        bool, typer.Option("--check", help="Only compare; exit 1 if a generated file is stale.")
    ] = False,
) -> None:
    """Write the CRD YAML (crds/generated/, crds/kustomization.yaml) and the Argo CD health checks."""
    if check:
        stale = generate.stale_files()
        for path in stale:
            console.print(f"stale: {path}", highlight=False)
        if stale:
            raise typer.Exit(1)
        console.print("generated CRDs and health checks are up to date")
        return
    changed = generate.write()
    for path in changed:
        console.print(f"wrote {path}", highlight=False)
    if not changed:
        console.print("generated CRDs and health checks are up to date")


@crds_app.command("install")
def install_command(
    kubeconfig: Annotated[
        Path | None,
        typer.Option(
            "--kubeconfig",
            help=f"Install into this cluster instead of the local one (also {EXTERNAL_KUBECONFIG_ENV}).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for Established and discovery.")] = 60.0,
) -> None:
    """Server-side apply the CRDs and wait until they are Established and served."""
    with user_errors():
        target = _kubeconfig(kubeconfig)
        install(target, timeout=timeout, report=lambda m: console.print(m, highlight=False))
    console.print(f"{len(KINDS)} CRDs established in group {GROUP}", highlight=False)
