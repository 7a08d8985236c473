"""The package maps onto the top-level folders without shadowing the standard library."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("folder", ["operator", "crds", "reconcilers", "runtime", "embedded"])
def test_tradeplane_subpackages_are_the_top_level_folders(folder: str) -> None:
    module = importlib.import_module(f"tradeplane.{folder}")
    locations = [Path(p).resolve() for p in module.__path__]
    assert locations == [ROOT / folder]


@pytest.mark.parametrize(
    "argv",
    [
        ["-c", "import operator; assert operator.eq(1, 1); print(operator.__file__)"],
        ["-m", "tradeplane.cli", "--help"],
    ],
)
def test_import_operator_is_the_standard_library_from_the_repository_root(argv: list[str]) -> None:
    result = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    if argv[0] == "-c":
        assert Path(result.stdout.strip()).parent != ROOT / "operator"
        assert "python3.11" in result.stdout


def test_operator_folder_stays_a_namespace_portion() -> None:
    assert not (ROOT / "operator" / "__init__.py").exists()
