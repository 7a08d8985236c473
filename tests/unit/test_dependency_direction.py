"""Which way the imports point: the planes never reach into the embedded default, the reconcilers stay
pure logic, and the operator process never loads the learning plane's heavy stacks.

The import checks run in a fresh interpreter each, because this test process has long since imported
everything.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
EMBEDDED = "tradeplane.embedded"
DATABASE_AND_ARRAYS = ("sqlalchemy", "asyncpg", "numpy", "pandas", "pyarrow")
LEARNING_STACKS = ("torch", "stable_baselines3", "mlflow", "nautilus_trader", "gymnasium")
OPERATOR_ENTRY = ["tradeplane.cli", "tradeplane.operator.main"] + [
    f"tradeplane.operator.{path.stem}" for path in sorted((ROOT / "operator").glob("*.py"))
]


def embedded_imports(source: str) -> list[str]:
    """Every import of ``tradeplane.embedded`` in ``source``, at module level or inside a function."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_embedded(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            if _is_embedded(node.module):
                found.append(node.module)
            elif node.module == "tradeplane":
                found += [f"tradeplane.{a.name}" for a in node.names if _is_embedded(f"tradeplane.{a.name}")]
    return found


def _is_embedded(module: str) -> bool:
    return module == EMBEDDED or module.startswith(f"{EMBEDDED}.")


def loaded_after_import(modules: list[str], roots: tuple[str, ...]) -> list[str]:
    """The packages among ``roots`` that importing ``modules`` loads, in a fresh interpreter."""
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({roots!r}))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "source",
    [
        "from tradeplane.embedded.cli import user_errors",
        "import tradeplane.embedded.postgres as pg",
        "from tradeplane import embedded",
        "def later():\n    from tradeplane.embedded.cluster import LocalCluster\n    return LocalCluster",
    ],
)
def test_the_scan_finds_every_form_of_an_embedded_import(source: str) -> None:
    assert embedded_imports(source)


def test_the_scan_ignores_modules_that_merely_share_the_prefix() -> None:
    source = "from tradeplane.embedded_extras import x\nfrom tradeplane.runtime.host.paths import state_dir"
    assert embedded_imports(source) == []


@pytest.mark.parametrize("folder", ["runtime", "crds"])
def test_the_planes_and_the_crds_never_import_the_embedded_default(folder: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in sorted((ROOT / folder).rglob("*.py"))
        if (found := embedded_imports(path.read_text()))
    }
    assert offenders == {}


@pytest.mark.parametrize(
    "module", [f"tradeplane.reconcilers.{path.stem}" for path in sorted((ROOT / "reconcilers").glob("*.py"))]
)
def test_a_reconciler_loads_no_database_driver_and_no_array_library(module: str) -> None:
    assert loaded_after_import([module], DATABASE_AND_ARRAYS) == []


def test_the_operator_process_never_loads_the_learning_stacks() -> None:
    assert loaded_after_import(OPERATOR_ENTRY, LEARNING_STACKS) == []


def test_the_probe_sees_a_heavy_stack_when_something_loads_it() -> None:
    assert "sqlalchemy" in loaded_after_import(["tradeplane.runtime.venue.snapshots"], DATABASE_AND_ARRAYS)
    assert loaded_after_import(["nautilus_trader.model.objects"], LEARNING_STACKS) == ["nautilus_trader"]
