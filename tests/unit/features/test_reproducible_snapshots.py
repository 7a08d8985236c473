"""A dataset snapshot is the same bytes whatever BLAS kernel and thread count the machine runs.

The golden window's snapshot file is built in fresh interpreters under every OpenBLAS kernel this
CPU can execute (a Nehalem, Sandybridge, Haswell or SkylakeX build of the same library, which is what
a machine of that CPU family would pick) with one and two threads. Each run reports the kernel and
thread count the loaded libraries say they use, and the digests of a matrix product and a dot
product that do change with them, so a setting that silently did nothing cannot pass as a proof.
The Parquet bytes and their sha256 must be identical in every run, and equal to this process's.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from tradeplane.runtime.features.parity import SimWindow, parity_contract, sim_inputs
from tradeplane.runtime.features.snapshot import parquet_bytes

pytestmark = pytest.mark.unit

BUILDER = Path(__file__).with_name("snapshot_in_process.py")
KERNELS = (("Nehalem", "sse4_2"), ("Sandybridge", "avx"), ("Haswell", "avx2"), ("SkylakeX", "avx512f"))
"""OpenBLAS x86-64 kernels and the CPU flag each needs (a kernel the CPU cannot run would crash)."""
THREADS = (1, 2)


def runnable_kernels() -> list[str]:
    assert platform.machine() in ("x86_64", "AMD64"), "list this architecture's OpenBLAS kernels here"
    flags: set[str] = set()
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    return [kernel for kernel, flag in KERNELS if flag in flags]


def build_in_subprocess(kernel: str, threads: int, out: Path) -> dict[str, object]:
    environment = {**os.environ, "OPENBLAS_CORETYPE": kernel, "OPENBLAS_NUM_THREADS": str(threads)}
    environment.pop("OMP_NUM_THREADS", None)
    done = subprocess.run(
        [sys.executable, str(BUILDER), str(out)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_the_snapshot_bytes_do_not_depend_on_the_blas_kernel_or_threads(tmp_path: Path) -> None:
    kernels = runnable_kernels()
    assert len(kernels) >= 2, f"this CPU offers OpenBLAS kernels {kernels}: nothing to compare"
    contract, inputs = parity_contract(), sim_inputs(SimWindow())
    bars = inputs.bars
    here = parquet_bytes(
        bars.open_time_ms,
        bars.close_time_ms,
        contract.plan().batch(inputs),
        contract.column_names,
        contract.fingerprint,
    )
    matmul_by_kernel: dict[str, set[str]] = {}
    dot_by_threads: dict[tuple[str, int], str] = {}
    for kernel in kernels:
        for threads in THREADS:
            out = tmp_path / f"{kernel}-{threads}.parquet"
            report = build_in_subprocess(kernel, threads, out)
            assert report["openblas"], "no OpenBLAS was loaded: the settings were not exercised"
            for library in report["openblas"]:  # type: ignore[attr-defined]
                assert library == {"core": kernel, "threads": threads}, (kernel, threads, report)
            probe: dict[str, str] = report["blas_probe"]  # type: ignore[assignment]
            matmul_by_kernel.setdefault(kernel, set()).add(probe["matmul"])
            dot_by_threads[kernel, threads] = probe["dot"]
            data = out.read_bytes()
            assert report["sha256"] == hashlib.sha256(data).hexdigest()
            assert data == here, f"snapshot bytes differ under {kernel} with {threads} thread(s)"
    # the settings did change what BLAS computes: one product per kernel, all kernels differ
    assert all(len(digests) == 1 for digests in matmul_by_kernel.values())
    assert len({next(iter(digests)) for digests in matmul_by_kernel.values()}) == len(kernels)
    assert all(dot_by_threads[kernel, 1] != dot_by_threads[kernel, 2] for kernel in kernels)
