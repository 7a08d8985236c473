"""Coverage gate of design section 8, enforced by `make test` on coverage's JSON report.

Overall: lines >= 85 %, branches >= 75 %. Critical modules (execution, risk, learning
orchestration, feature contracts, ingest sequencing): lines >= 90 %, branches >= 85 %, each group
checked as soon as it has any code.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

OVERALL = (85.0, 75.0)
CRITICAL = (90.0, 85.0)
CRITICAL_GROUPS = (
    "tradeplane/runtime/execution/",
    "tradeplane/runtime/risk/",
    "tradeplane/runtime/learning/",
    "tradeplane/runtime/features/",
    "tradeplane/runtime/marketdata/",
)


@dataclass
class Tally:
    statements: int = 0
    covered: int = 0
    branches: int = 0
    covered_branches: int = 0

    def add(self, summary: dict[str, int]) -> None:
        self.statements += summary["num_statements"]
        self.covered += summary["covered_lines"]
        self.branches += summary.get("num_branches", 0)
        self.covered_branches += summary.get("covered_branches", 0)

    @property
    def lines_pct(self) -> float:
        return 100.0 * self.covered / self.statements if self.statements else 100.0

    @property
    def branches_pct(self) -> float:
        return 100.0 * self.covered_branches / self.branches if self.branches else 100.0


def check(report: dict[str, object]) -> list[str]:
    files: dict[str, dict[str, dict[str, int]]] = report["files"]  # type: ignore[assignment]
    overall = Tally()
    groups = {group: Tally() for group in CRITICAL_GROUPS}
    for path, data in files.items():
        overall.add(data["summary"])
        for group, tally in groups.items():
            if group in path:
                tally.add(data["summary"])
    failures = []
    named = [("overall", overall, OVERALL)]
    named += [(group, tally, CRITICAL) for group, tally in groups.items() if tally.statements]
    for name, tally, (min_lines, min_branches) in named:
        line = (
            f"{name}: lines {tally.lines_pct:.1f}% (>= {min_lines}), "
            f"branches {tally.branches_pct:.1f}% (>= {min_branches})"
        )
        print(line)
        if tally.lines_pct < min_lines or tally.branches_pct < min_branches:
            failures.append(line)
    return failures


def main(argv: list[str]) -> int:
    report = json.loads(Path(argv[1]).read_text())
    failures = check(report)
    if failures:
        print("coverage gate FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("coverage gate passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
