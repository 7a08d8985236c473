"""A failed workload's own account of why, from the tail of what it printed.

Both drivers need it: a local child's log file, and a pod's termination message (which the
Kubernetes driver asks to fall back to the log tail). The builder prints its verdict as a first
line followed by one problem per line (``dataset_cli``); that block becomes one line, so a status
condition can carry it. The local supervisor's own lines start with ``[tradeplane]`` and are not
the workload's words.
"""

from __future__ import annotations

from pathlib import Path

DETAIL_BYTES = 16384
"""How much of a failed workload's log is read back for its last verdict."""
SUPERVISOR_PREFIX = "[tradeplane]"
VERDICT_PREFIXES = ("dataset incomplete", "build-dataset failed")
"""How the builder's stderr verdicts begin; the problem list follows, one per line."""


def last_verdict(text: str) -> str | None:
    """The last verdict block as one line, else the last line the workload printed, else None."""
    lines = text.splitlines()
    found = [line.strip() for line in lines if line.strip() and not line.startswith(SUPERVISOR_PREFIX)]
    starts = [i for i, line in enumerate(found) if line.lower().startswith(VERDICT_PREFIXES)]
    if starts:
        return " ".join(found[starts[-1] :])
    return found[-1] if found else None


def last_error(path: Path) -> str | None:
    """:func:`last_verdict` of a log file's tail; None when there is no log to read."""
    try:
        with path.open("rb") as log:
            log.seek(0, 2)
            log.seek(max(0, log.tell() - DETAIL_BYTES))
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return None
    return last_verdict(text)
