"""Emergency commands: ``halt`` / ``resume`` a RiskPolicy, ``promote`` / ``abort`` a Rollout; and
``build-dataset-now`` for a FeatureSet.

They write only where Argo CD and Flux never revert: the status subresource (which a manifest cannot
carry) and a ``tradeplane.io/last-command`` annotation (which no manifest declares, so neither
client-side nor server-side apply removes it). The actor is whoever the API server says is calling
(``kubectl auth whoami``), not a name the caller types; the operator records it in the audit chain.
Also installed as the kubectl plugin ``kubectl-tradeplane``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from tradeplane.crds.annotations import DATASET_REQUESTED_AT, LAST_COMMAND
from tradeplane.crds.common import GROUP, format_time
from tradeplane.runtime.console import console, user_errors
from tradeplane.runtime.errors import UserError
from tradeplane.runtime.host.paths import local_kubeconfig
from tradeplane.runtime.kubectl import external_kubeconfig, kubectl

commands_app = typer.Typer(
    help="GitOps-safe emergency commands (status subresource and annotations only).", no_args_is_help=True
)

Namespace = Annotated[str, typer.Option("--namespace", "-n", help="Namespace of the object.")]
Kubeconfig = Annotated[
    Path | None, typer.Option("--kubeconfig", help="Cluster to act on.", show_default=False)
]
Reason = Annotated[str, typer.Option(help="Why; recorded in the audit chain.")]


def resolve_kubeconfig(explicit: Path | None) -> Path:
    """--kubeconfig, then TRADEPLANE_KUBECONFIG, then KUBECONFIG, then the local control plane."""
    chosen = external_kubeconfig(explicit)
    if chosen is not None:
        return chosen
    if os.environ.get("KUBECONFIG"):
        return Path(os.environ["KUBECONFIG"]).expanduser()
    local = local_kubeconfig()
    if local.is_file():
        return local
    raise UserError("no cluster selected: pass --kubeconfig, set KUBECONFIG, or run `tradeplane up`")


def whoami(kubeconfig: Path) -> str:
    """The authenticated user as the API server sees it (SelfSubjectReview)."""
    result = kubectl(["auth", "whoami", "-o", "json"], kubeconfig)
    username: str = json.loads(result.stdout)["status"]["userInfo"]["username"]
    return username


def _now() -> str:
    return format_time(datetime.now(UTC))


def _patch(kubeconfig: Path, resource: str, namespace: str, body: dict[str, Any], *, status: bool) -> None:
    args = ["patch", resource, "-n", namespace, "--type=merge", "-p", json.dumps(body)]
    kubectl([*args, "--subresource=status"] if status else args, kubeconfig)


StatusFor = Callable[[str], dict[str, Any]]
"""The status fields to write, given the actor (a halt request carries its actor)."""


def issue(
    kubeconfig: Path, plural: str, name: str, namespace: str, *, command: str, status: StatusFor, reason: str
) -> str:
    """Record ``command`` on the object (annotation) and carry it out through /status; returns the actor."""
    resource = f"{plural}.{GROUP}/{name}"
    kubectl(["get", resource, "-n", namespace, "-o", "name"], kubeconfig)  # a clear error if it is missing
    actor = whoami(kubeconfig)
    note = {"command": command, "actor": actor, "reason": reason, "time": _now()}
    annotation = {"metadata": {"annotations": {LAST_COMMAND: json.dumps(note)}}}
    _patch(kubeconfig, resource, namespace, annotation, status=False)
    _patch(kubeconfig, resource, namespace, {"status": status(actor)}, status=True)
    return actor


def _state_request(state: str, reason: str) -> StatusFor:
    def build(actor: str) -> dict[str, Any]:
        return {"requested": {"state": state, "actor": actor, "reason": reason, "time": _now()}}

    return build


@commands_app.command()
def halt(
    name: str, namespace: Namespace = "default", reason: Reason = "", kubeconfig: Kubeconfig = None
) -> None:
    """Kill switch: the RiskPolicy goes HALTED (executors cancel all orders; flatten if configured)."""
    with user_errors():
        config = resolve_kubeconfig(kubeconfig)
        request = _state_request("HALTED", reason)
        actor = issue(config, "riskpolicies", name, namespace, command="halt", status=request, reason=reason)
    console.print(f"RiskPolicy {namespace}/{name}: halt requested by {actor}")


@commands_app.command()
def resume(
    name: str, namespace: Namespace = "default", reason: Reason = "", kubeconfig: Kubeconfig = None
) -> None:
    """Leave HALTED (after the policy's resume cooldown, and only if no halting breaker is tripped)."""
    with user_errors():
        config = resolve_kubeconfig(kubeconfig)
        request = _state_request("ACTIVE", reason)
        actor = issue(
            config, "riskpolicies", name, namespace, command="resume", status=request, reason=reason
        )
    console.print(f"RiskPolicy {namespace}/{name}: resume requested by {actor}")


@commands_app.command()
def promote(
    name: str,
    namespace: Namespace = "default",
    full: Annotated[bool, typer.Option("--full", help="Skip all remaining steps to 100 %.")] = False,
    reason: Reason = "",
    kubeconfig: Kubeconfig = None,
) -> None:
    """Continue a paused Rollout past its pause (or, with --full, to the end)."""
    fields: dict[str, Any] = {"pauseConditions": None, **({"promoteFull": True} if full else {})}
    with user_errors():
        config = resolve_kubeconfig(kubeconfig)
        command = "promote-full" if full else "promote"
        actor = issue(
            config, "rollouts", name, namespace, command=command, status=lambda _actor: fields, reason=reason
        )
    console.print(f"Rollout {namespace}/{name}: {'full ' if full else ''}promotion requested by {actor}")


@commands_app.command()
def abort(
    name: str, namespace: Namespace = "default", reason: Reason = "", kubeconfig: Kubeconfig = None
) -> None:
    """Stop the Rollout and return all capital to the champion."""
    with user_errors():
        config = resolve_kubeconfig(kubeconfig)
        actor = issue(
            config,
            "rollouts",
            name,
            namespace,
            command="abort",
            status=lambda _a: {"abort": True},
            reason=reason,
        )
    console.print(f"Rollout {namespace}/{name}: abort requested by {actor}")


@commands_app.command("build-dataset-now")
def build_dataset_now(name: str, namespace: Namespace = "default", kubeconfig: Kubeconfig = None) -> None:
    """Ask for a new dataset snapshot of a FeatureSet now (built once its Instrument is Ready)."""
    with user_errors():
        config = resolve_kubeconfig(kubeconfig)
        resource = f"featuresets.{GROUP}/{name}"
        kubectl(["get", resource, "-n", namespace, "-o", "name"], config)  # a clear error if it is missing
        stamp = _now()
        _patch(
            config,
            resource,
            namespace,
            {"metadata": {"annotations": {DATASET_REQUESTED_AT: stamp}}},
            status=False,
        )
    console.print(f"FeatureSet {namespace}/{name}: dataset build requested at {stamp}")


def plugin_main() -> None:
    """``kubectl tradeplane <command>``: kubectl finds executables named ``kubectl-*`` on PATH."""
    commands_app(prog_name="kubectl tradeplane")
