"""Pure parts of the binary builder and the Go toolchain check."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeplane.embedded import binaries
from tradeplane.embedded.toolchain import GoToolchainError, GoVersion, find_go
from tradeplane.runtime.host.paths import cache_dir

pytestmark = pytest.mark.unit

KK_GOMOD_EXCERPT = """
module k8s.io/kubernetes

go 1.26.0

require (
	k8s.io/api v0.0.0
	github.com/spf13/cobra v1.10.2
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/cri-streaming => ./staging/src/k8s.io/cri-streaming
	k8s.io/apimachinery => ./staging/src/k8s.io/apimachinery
	github.com/foo/bar => github.com/foo/bar v1.0.0
)
"""


def test_staging_modules_are_read_from_the_kubernetes_gomod() -> None:
    assert binaries._staging_modules(KK_GOMOD_EXCERPT) == [
        "k8s.io/api",
        "k8s.io/apimachinery",
        "k8s.io/cri-streaming",
    ]


def test_wrapper_pins_each_staging_module_to_its_published_tag() -> None:
    gomod = binaries._wrapper_gomod(binaries.KUBERNETES, ["k8s.io/api", "k8s.io/streaming"])
    assert "require k8s.io/kubernetes v1.36.4" in gomod
    assert "\tk8s.io/api => k8s.io/api v0.36.4" in gomod
    assert "\tk8s.io/streaming => k8s.io/streaming v0.36.4" in gomod
    assert "replace" not in binaries._wrapper_gomod(binaries.ETCD, [])


@pytest.mark.parametrize(
    ("package", "name"),
    [
        ("go.etcd.io/etcd/server/v3", "server"),
        ("k8s.io/kubernetes/cmd/kube-apiserver", "kube-apiserver"),
        ("sigs.k8s.io/kwok/cmd/kwok", "kwok"),
    ],
)
def test_go_default_binary_names(package: str, name: str) -> None:
    assert binaries._go_default_binary_name(package) == name


def test_bundles_name_their_binaries() -> None:
    assert binaries.ETCD.binaries == ("etcd",)
    assert binaries.KUBERNETES.binaries == ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
    assert binaries.KWOK.key.startswith("kwok-v0.8.0-linux-")


def test_kubernetes_ldflags_stamp_the_release() -> None:
    flags = " ".join(binaries.KUBERNETES.ldflags)
    assert "k8s.io/component-base/version.gitVersion=v1.36.4" in flags
    assert "k8s.io/component-base/version.gitMinor=36" in flags


@given(st.integers(1, 3), st.integers(0, 40), st.integers(0, 20), st.integers(0, 40), st.integers(0, 20))
def test_go_versions_order_numerically(
    major: int, minor_a: int, patch_a: int, minor_b: int, patch_b: int
) -> None:
    a = GoVersion.parse(f"go{major}.{minor_a}.{patch_a}")
    b = GoVersion.parse(f"go{major}.{minor_b}.{patch_b}")
    assert (a < b) == ((minor_a, patch_a) < (minor_b, patch_b))
    assert str(a) == f"go{major}.{minor_a}.{patch_a}"


def test_go_version_without_patch_and_garbage() -> None:
    assert GoVersion.parse("go1.26") == GoVersion(1, 26, 0)
    with pytest.raises(ValueError, match="not a Go version"):
        GoVersion.parse("devel")


def _fake_go(folder: Path, version_line: str) -> None:
    go = folder / "go"
    go.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    go.chmod(go.stat().st_mode | stat.S_IXUSR)


def test_missing_go_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GoToolchainError) as error:
        find_go(GoVersion(1, 26), "Building kubernetes v1.36.4")
    assert "Go was not found on PATH" in str(error.value)
    assert "needs Go >= 1.26" in str(error.value)
    assert "TRADEPLANE_KUBECONFIG" in str(error.value)


def test_old_go_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_go(tmp_path, "go1.21.6")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        GoToolchainError, match=r"Go go1\.21\.6 at .* is too old\. Building .* needs Go >= 1\.26"
    ):
        find_go(GoVersion(1, 26), "Building kubernetes v1.36.4")


def test_unreadable_go_version_is_a_toolchain_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_go(tmp_path, "something else")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GoToolchainError, match="GOVERSION"):
        find_go(GoVersion(1, 26), "Building etcd")


def test_a_build_without_go_fails_before_touching_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEPLANE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GoToolchainError):
        binaries.ensure(binaries.ETCD, report=lambda _m: None)
    assert not binaries.bundle_dir(binaries.ETCD).exists()


def test_verify_explains_a_missing_manifest(tmp_path: Path) -> None:
    assert binaries.verify(binaries.ETCD, tmp_path) == "its manifest is missing or unreadable"
    (tmp_path / binaries.MANIFEST).write_text('{"version": "v0.0.1", "sha256": {"etcd": "00"}}')
    assert binaries.verify(binaries.ETCD, tmp_path) == "its manifest does not describe this version"
    (tmp_path / binaries.MANIFEST).write_text('{"version": "v3.6.8", "sha256": {"etcd": "00"}}')
    assert binaries.verify(binaries.ETCD, tmp_path) == "etcd is missing"


def test_cache_dir_honours_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRADEPLANE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "tradeplane"
    monkeypatch.setenv("TRADEPLANE_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert cache_dir() == (tmp_path / "elsewhere").resolve()
    assert os.path.isabs(cache_dir())
