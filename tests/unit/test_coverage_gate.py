"""The coverage gate fails exactly when a threshold is missed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from coverage_gate import check, main

pytestmark = pytest.mark.unit


def _file(statements: int, covered: int, branches: int, covered_branches: int) -> dict[str, object]:
    return {
        "summary": {
            "num_statements": statements,
            "covered_lines": covered,
            "num_branches": branches,
            "covered_branches": covered_branches,
        }
    }


def test_passes_at_the_thresholds() -> None:
    report = {"files": {"src/tradeplane/embedded/a.py": _file(100, 85, 100, 75)}}
    assert check(report) == []


def test_fails_on_overall_branches() -> None:
    report = {"files": {"src/tradeplane/embedded/a.py": _file(100, 99, 100, 74)}}
    assert [f for f in check(report) if f.startswith("overall")]


def test_critical_modules_need_more_once_they_exist() -> None:
    report = {
        "files": {
            "src/tradeplane/embedded/a.py": _file(1000, 1000, 100, 100),
            "src/tradeplane/runtime/risk/limits.py": _file(100, 89, 10, 10),
        }
    }
    failures = check(report)
    assert len(failures) == 1 and failures[0].startswith("tradeplane/runtime/risk/")


def test_main_reads_the_json_report(tmp_path: Path) -> None:
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps({"files": {"x.py": _file(10, 1, 0, 0)}}))
    assert main(["gate", str(path)]) == 1
    path.write_text(json.dumps({"files": {"x.py": _file(10, 10, 0, 0)}}))
    assert main(["gate", str(path)]) == 0
