"""Build-once, version-keyed cache of the Go binaries behind the local control plane.

kube-apiserver, kube-controller-manager and kube-scheduler are compiled from the Go module proxy
through a generated wrapper module (k8s.io/kubernetes cannot be ``go install``ed: its go.mod maps
the staging modules with local ``replace`` lines, so the wrapper replaces each with its published
v0.x tag). etcd and kwok are built the same way. Every bundle is written to a ``.partial`` folder
and renamed into place only after its version probe passes, so an interrupted build leaves nothing
that looks finished; the Go module and build caches make the next attempt resume where it stopped.
A manifest of SHA-256 digests lets every later use detect a corrupted cache and rebuild it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tradeplane.embedded.errors import EmbeddedError
from tradeplane.embedded.locking import exclusive_lock
from tradeplane.embedded.toolchain import GoVersion, find_go
from tradeplane.runtime.host.paths import cache_dir

KUBERNETES_VERSION = "v1.36.4"
ETCD_VERSION = "v3.6.8"
KWOK_VERSION = "v0.8.0"
REQUIRED_GO = GoVersion(1, 26)
MANIFEST = "manifest.json"

Reporter = Callable[[str], None]
"""Receives human-readable build progress lines."""


class BuildError(EmbeddedError):
    """A build step failed; the message carries the tail of the tool's output."""


@dataclass(frozen=True)
class GoBundle:
    """Binaries built together from one module at one version, cached as one unit."""

    name: str
    module: str
    version: str
    packages: tuple[str, ...]
    version_probe: str
    """Text every binary's ``--version`` output must contain (catches truncated or wrong builds)."""
    ldflags: tuple[str, ...] = ()
    replace_kubernetes_staging: bool = False
    module_files: dict[str, str] = field(default_factory=dict)
    """Files copied from the downloaded module source into the bundle: {source path: bundle name}."""

    binary_names: dict[str, str] = field(default_factory=dict)
    """Renames of go's default output names, e.g. etcd's ``server`` (from .../server/v3) to ``etcd``."""

    @property
    def binaries(self) -> tuple[str, ...]:
        defaults = (_go_default_binary_name(pkg) for pkg in self.packages)
        return tuple(self.binary_names.get(name, name) for name in defaults)

    @property
    def key(self) -> str:
        machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
        return f"{self.name}-{self.version}-{platform.system().lower()}-{machine}"


def _go_default_binary_name(package: str) -> str:
    """go names a binary after the last path element, skipping a major-version suffix such as /v3."""
    parts = package.split("/")
    return parts[-2] if re.fullmatch(r"v\d+", parts[-1]) and len(parts) > 1 else parts[-1]


def _kubernetes_ldflags(version: str) -> tuple[str, ...]:
    # Mirrors k/k hack/lib/version.sh: without these the binaries report v0.0.0-master, which
    # confuses kubectl's version-skew check.
    minor = version.split(".")[1]
    values = {"gitVersion": version, "gitMajor": "1", "gitMinor": minor, "gitTreeState": "clean"}
    flags = [f"-X k8s.io/component-base/version.{k}={v}" for k, v in values.items()]
    flags += [f"-X k8s.io/client-go/pkg/version.{k}={v}" for k, v in values.items() if k != "gitTreeState"]
    return tuple(flags)


KUBERNETES = GoBundle(
    name="kubernetes",
    module="k8s.io/kubernetes",
    version=KUBERNETES_VERSION,
    packages=(
        "k8s.io/kubernetes/cmd/kube-apiserver",
        "k8s.io/kubernetes/cmd/kube-controller-manager",
        "k8s.io/kubernetes/cmd/kube-scheduler",
    ),
    version_probe=f"Kubernetes {KUBERNETES_VERSION}",
    ldflags=_kubernetes_ldflags(KUBERNETES_VERSION),
    replace_kubernetes_staging=True,
)
ETCD = GoBundle(
    name="etcd",
    module="go.etcd.io/etcd/server/v3",
    version=ETCD_VERSION,
    packages=("go.etcd.io/etcd/server/v3",),
    version_probe=f"etcd Version: {ETCD_VERSION.lstrip('v')}",
    binary_names={"server": "etcd"},
)
KWOK = GoBundle(
    name="kwok",
    module="sigs.k8s.io/kwok",
    version=KWOK_VERSION,
    packages=("sigs.k8s.io/kwok/cmd/kwok",),
    version_probe=f"kwok version {KWOK_VERSION}",
    module_files={
        "kustomize/stage/node/fast/node-initialize.yaml": "stage-node-initialize.yaml",
        "kustomize/stage/pod/fast/pod-ready.yaml": "stage-pod-ready.yaml",
        "kustomize/stage/pod/fast/pod-complete.yaml": "stage-pod-complete.yaml",
        "kustomize/stage/pod/fast/pod-delete.yaml": "stage-pod-delete.yaml",
    },
)
ALL_BUNDLES = (ETCD, KUBERNETES, KWOK)


@dataclass(frozen=True)
class CachedBundle:
    bundle: GoBundle
    directory: Path

    def path(self, name: str) -> Path:
        return self.directory / name


def bundle_dir(bundle: GoBundle) -> Path:
    return cache_dir() / "bin" / bundle.key


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _probe(binary: Path, expected: str) -> str | None:
    """Run ``--version``; return a reason when the binary does not answer as expected."""
    try:
        result = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as exc:
        return f"{binary.name} does not run ({exc})"
    except subprocess.TimeoutExpired:
        return f"{binary.name} --version did not answer"
    if expected not in result.stdout + result.stderr:
        return f"{binary.name} --version does not report {expected!r}"
    return None


def verify(bundle: GoBundle, directory: Path) -> str | None:
    """Return why the cached bundle is unusable, or None when digests and version probes hold."""
    manifest_path = directory / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
        recorded: dict[str, str] = manifest["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return "its manifest is missing or unreadable"
    expected = set(bundle.binaries) | set(bundle.module_files.values())
    if set(recorded) != expected or manifest.get("version") != bundle.version:
        return "its manifest does not describe this version"
    for name, digest in sorted(recorded.items()):
        file = directory / name
        if not file.is_file():
            return f"{name} is missing"
        if _sha256(file) != digest:
            return f"{name} does not match its recorded checksum"
    for name in bundle.binaries:
        reason = _probe(directory / name, bundle.version_probe)
        if reason:
            return reason
    return None


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"})
    return env


def _run(
    cmd: Sequence[str], cwd: Path, report: Reporter, on_line: Callable[[str], None] | None = None
) -> str:
    """Run a build command, streaming its stderr; on failure raise with the tail of its output.

    stdout goes to a file rather than a pipe: ``go list -deps`` writes more than a pipe holds
    while we are still draining stderr.
    """
    tail: list[str] = []
    with tempfile.TemporaryFile("w+") as stdout:
        with subprocess.Popen(
            list(cmd), cwd=cwd, env=_go_env(), stdout=stdout, stderr=subprocess.PIPE, text=True
        ) as proc:
            assert proc.stderr is not None
            try:
                for line in proc.stderr:
                    tail = [*tail[-39:], line.rstrip()]
                    if on_line:
                        on_line(line.rstrip())
            except BaseException:
                proc.kill()
                raise
            code = proc.wait()
        stdout.seek(0)
        output = stdout.read()
    if code != 0:
        raise BuildError(f"`{' '.join(cmd)}` failed with exit code {code}:\n" + "\n".join(tail))
    return output


def _wrapper_gomod(bundle: GoBundle, staging: Sequence[str]) -> str:
    lines = [f"module tradeplane.invalid/{bundle.name}bins", "", "go 1.26.0", ""]
    lines.append(f"require {bundle.module} {bundle.version}")
    if staging:
        published = "v0." + bundle.version.split(".", 1)[1]
        lines += ["", "replace ("] + [f"\t{mod} => {mod} {published}" for mod in staging] + [")"]
    return "\n".join(lines) + "\n"


def _staging_modules(gomod_text: str) -> list[str]:
    """The staging modules k/k maps to ./staging, which the wrapper must pin to published tags."""
    return sorted(set(re.findall(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", gomod_text, re.MULTILINE)))


def _build(bundle: GoBundle, target: Path, report: Reporter) -> None:
    go, go_version = find_go(REQUIRED_GO, f"Building {bundle.name} {bundle.version}")
    work = cache_dir() / "build" / bundle.key
    work.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)

    report(f"[{bundle.name}] resolving {bundle.module}@{bundle.version} with {go_version}")
    (work / "go.mod").write_text(_wrapper_gomod(bundle, ()))
    info = json.loads(
        _run([go, "mod", "download", "-json", f"{bundle.module}@{bundle.version}"], work, report)
    )
    staging = _staging_modules(Path(info["GoMod"]).read_text()) if bundle.replace_kubernetes_staging else []
    (work / "go.mod").write_text(_wrapper_gomod(bundle, staging))

    report(f"[{bundle.name}] downloading dependencies")
    _run([go, "get", *(f"{pkg}@{bundle.version}" for pkg in bundle.packages)], work, report)
    total = len(_run([go, "list", "-deps", *bundle.packages], work, report).split())

    compiled = 0
    step = max(total // 20, 1)

    def progress(line: str) -> None:
        nonlocal compiled
        if line and not line.startswith(("go:", "#")) and " " not in line:
            compiled += 1
            if compiled % step == 0:
                report(f"[{bundle.name}] compiled {compiled} of at most {total} packages")

    report(
        f"[{bundle.name}] compiling {', '.join(bundle.binaries)} ({total} packages; cached ones are skipped)"
    )
    ldflags = " ".join(("-s", "-w", *bundle.ldflags))
    cmd = [go, "build", "-v", "-trimpath", "-ldflags", ldflags, "-o", f"{partial}{os.sep}", *bundle.packages]
    _run(cmd, work, report, on_line=progress)

    for default, name in bundle.binary_names.items():
        (partial / default).rename(partial / name)
    for source, name in bundle.module_files.items():
        shutil.copyfile(Path(info["Dir"]) / source, partial / name)
    for name in bundle.binaries:
        reason = _probe(partial / name, bundle.version_probe)
        if reason:
            raise BuildError(f"the freshly built {reason}")
    digests = {p.name: _sha256(p) for p in sorted(partial.iterdir())}
    manifest = {"name": bundle.name, "version": bundle.version, "go": str(go_version), "sha256": digests}
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    report(f"[{bundle.name}] cached in {target}")


def ensure(bundle: GoBundle, report: Reporter = print) -> CachedBundle:
    """Return the cached bundle, building it first if it is absent or fails verification."""
    target = bundle_dir(bundle)
    with exclusive_lock(cache_dir() / "locks" / f"{bundle.key}.lock"):
        problem = verify(bundle, target) if target.exists() else None
        if target.exists() and problem is None:
            return CachedBundle(bundle, target)
        if problem:
            report(f"[{bundle.name}] cache at {target} is unusable ({problem}); rebuilding")
        _build(bundle, target, report)
    return CachedBundle(bundle, target)


def ensure_all(
    report: Reporter = print, bundles: Sequence[GoBundle] = ALL_BUNDLES
) -> dict[str, CachedBundle]:
    return {bundle.name: ensure(bundle, report) for bundle in bundles}
