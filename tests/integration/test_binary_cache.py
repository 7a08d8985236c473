"""The build cache with the real Go toolchain: reuse, corruption, interruption.

Rebuilds use kwok (the smallest bundle) in a private cache directory; the Go module and build
caches are the machine's, so a rebuild is mostly a link.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tradeplane.embedded import binaries

pytestmark = pytest.mark.integration


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache holding a copy of the machine's verified kwok bundle."""
    shared = binaries.ensure(binaries.KWOK, report=lambda _m: None)
    cache = tmp_path / "cache"
    monkeypatch.setenv("TRADEPLANE_CACHE_DIR", str(cache))
    shutil.copytree(shared.directory, binaries.bundle_dir(binaries.KWOK))
    return cache


def test_a_cached_bundle_is_reused_without_go(
    private_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = binaries.bundle_dir(binaries.KWOK) / binaries.MANIFEST
    before = manifest.stat().st_mtime_ns
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # any attempt to build would fail: there is no go
    lines: list[str] = []
    cached = binaries.ensure(binaries.KWOK, report=lines.append)
    assert cached.directory == binaries.bundle_dir(binaries.KWOK)
    assert manifest.stat().st_mtime_ns == before
    assert lines == []


def test_a_corrupted_binary_is_detected_and_rebuilt(private_cache: Path) -> None:
    binary = binaries.bundle_dir(binaries.KWOK) / "kwok"
    data = bytearray(binary.read_bytes())
    data[len(data) // 2] ^= 0xFF
    binary.write_bytes(bytes(data))
    assert binaries.verify(binaries.KWOK, binary.parent) == "kwok does not match its recorded checksum"

    lines: list[str] = []
    rebuilt = binaries.ensure(binaries.KWOK, report=lines.append)
    assert any("unusable (kwok does not match its recorded checksum); rebuilding" in line for line in lines)
    assert any("compiling kwok" in line for line in lines)
    assert binaries.verify(binaries.KWOK, rebuilt.directory) is None


def test_a_truncated_binary_fails_the_version_probe(private_cache: Path) -> None:
    directory = binaries.bundle_dir(binaries.KWOK)
    (directory / "kwok").write_bytes(b"#!/bin/sh\necho nothing\n")
    manifest = (directory / binaries.MANIFEST).read_text()
    digest = binaries._sha256(directory / "kwok")
    old = binaries.json.loads(manifest)["sha256"]["kwok"]
    (directory / binaries.MANIFEST).write_text(manifest.replace(old, digest))
    assert binaries.verify(binaries.KWOK, directory) == "kwok --version does not report 'kwok version v0.8.0'"


def test_an_interrupted_build_leaves_nothing_finished_and_resumes(private_cache: Path) -> None:
    shutil.rmtree(binaries.bundle_dir(binaries.KWOK))
    script = "from tradeplane.embedded import binaries; binaries.ensure(binaries.KWOK)"
    builder = subprocess.Popen(
        [sys.executable, "-u", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
        start_new_session=True,
    )
    assert builder.stdout is not None
    seen = []
    for line in builder.stdout:
        seen.append(line)
        if "downloading dependencies" in line:
            os.killpg(builder.pid, signal.SIGKILL)
            break
    builder.wait()
    assert builder.returncode == -signal.SIGKILL, "".join(seen)
    assert not binaries.bundle_dir(binaries.KWOK).exists()

    lines: list[str] = []
    resumed = binaries.ensure(binaries.KWOK, report=lines.append)
    assert binaries.verify(binaries.KWOK, resumed.directory) is None
    assert not resumed.directory.with_name(resumed.directory.name + ".partial").exists()
