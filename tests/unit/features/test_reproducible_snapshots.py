"""A dataset snapshot is the same bytes on every CPU family, BLAS kernel and thread count.

The golden window's snapshot file is built in fresh interpreters, each made to compute like a CPU
of one family that this machine can stand in for: the OpenBLAS kernel that family would get
(Nehalem, Sandybridge, Haswell, SkylakeX), numpy's SIMD code limited to what it has (no AVX2 before
Haswell, no AVX-512 before SkylakeX), and the C library's math without FMA where the family has none;
each with one and two BLAS threads. Every run reports what the libraries say they use, and digests
of computations that do change with these settings (a matrix product, a dot product, numpy's and the
C library's logarithm), so a setting that silently did nothing cannot pass as a proof. The Parquet
bytes and their sha256 must be identical in every run, and equal to this process's.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

from tradeplane.runtime.features.parity import SimWindow, parity_contract, sim_inputs
from tradeplane.runtime.features.snapshot import parquet_bytes

pytestmark = pytest.mark.unit

BUILDER = Path(__file__).with_name("snapshot_in_process.py")
THREADS = (1, 2)
NO_FMA = "glibc.cpu.hwcaps=-AVX2_Usable,-FMA_Usable,-AVX2,-FMA"
"""The C library's hardware-capability mask without FMA and AVX2 (both spellings glibc has used)."""


@dataclass(frozen=True)
class Family:
    kernel: str
    """OpenBLAS kernel (``OPENBLAS_CORETYPE``) a CPU of this family gets."""
    flag: str
    """The /proc/cpuinfo flag this CPU needs to run that kernel."""
    numpy_simd: tuple[str, ...]
    """numpy SIMD levels a CPU of this family has (the others are disabled)."""
    fma: bool


FAMILIES = (
    Family("Nehalem", "sse4_2", (), fma=False),
    Family("Sandybridge", "avx", (), fma=False),
    Family("Haswell", "avx2", ("X86_V3",), fma=True),
    Family("SkylakeX", "avx512f", ("X86_V3", "X86_V4"), fma=True),
)


def runnable_families() -> list[Family]:
    assert platform.machine() in ("x86_64", "AMD64"), "list this architecture's CPU families here"
    flags: set[str] = set()
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    runnable = [family for family in FAMILIES if family.flag in flags]
    pinned = os.environ.get("OPENBLAS_CORETYPE", "").lower()
    kernels = [family.kernel.lower() for family in runnable]
    if pinned in kernels:  # a machine pins a kernel where newer ones misbehave: stay at or below it
        runnable = runnable[: kernels.index(pinned) + 1]
    return runnable


def environment_of(family: Family, threads: int) -> dict[str, str]:
    """This process's environment, made to compute like ``family`` with ``threads`` BLAS threads."""
    available = [target for target in __cpu_dispatch__ if __cpu_features__.get(target)]
    keep = family.numpy_simd[-1] if family.numpy_simd else None
    disabled = available[available.index(keep) + 1 :] if keep in available else available
    environment = {**os.environ, "OPENBLAS_CORETYPE": family.kernel, "OPENBLAS_NUM_THREADS": str(threads)}
    environment["NPY_DISABLE_CPU_FEATURES"] = " ".join(disabled)
    environment["GLIBC_TUNABLES"] = "" if family.fma else NO_FMA
    environment.pop("OMP_NUM_THREADS", None)
    return environment


def build_in_subprocess(environment: dict[str, str], out: Path) -> dict[str, object]:
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


def test_the_snapshot_bytes_do_not_depend_on_the_cpu_family_blas_kernel_or_threads(tmp_path: Path) -> None:
    families = runnable_families()
    # one family (a machine that pins the oldest kernel) still compares its two thread counts
    assert families, "this CPU runs none of the listed OpenBLAS kernels"
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
    dot_by_run: dict[tuple[str, int], str] = {}
    logs: set[tuple[str, str]] = set()
    for family in families:
        for threads in THREADS:
            out = tmp_path / f"{family.kernel}-{threads}.parquet"
            report = build_in_subprocess(environment_of(family, threads), out)
            assert report["openblas"], "no OpenBLAS was loaded: the settings were not exercised"
            for library in report["openblas"]:  # type: ignore[attr-defined]
                assert library == {"core": family.kernel, "threads": threads}, (family, threads, report)
            assert report["numpy_simd"] == list(family.numpy_simd), (family, report)
            blas: dict[str, str] = report["blas_probe"]  # type: ignore[assignment]
            math: dict[str, str] = report["math_probe"]  # type: ignore[assignment]
            matmul_by_kernel.setdefault(family.kernel, set()).add(blas["matmul"])
            dot_by_run[family.kernel, threads] = blas["dot"]
            logs.add((math["numpy_log"], math["libm_log"]))
            data = out.read_bytes()
            assert report["sha256"] == hashlib.sha256(data).hexdigest()
            assert data == here, f"snapshot bytes differ computing like {family.kernel}, {threads} thread(s)"
    # the settings did change the arithmetic: BLAS per kernel and per thread count, logarithms per family
    assert all(len(digests) == 1 for digests in matmul_by_kernel.values())
    assert len({next(iter(digests)) for digests in matmul_by_kernel.values()}) == len(families)
    assert all(dot_by_run[family.kernel, 1] != dot_by_run[family.kernel, 2] for family in families)
    if len({(family.fma, family.numpy_simd) for family in families}) >= 2:
        # only families that differ in FMA or SIMD level compute logarithms differently: with the
        # kernel pinned at Sandybridge or below, every emulated family has neither
        assert len(logs) >= 2, "numpy's and the C library's logarithm were the same in every run"
