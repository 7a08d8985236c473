"""The JSON record a background component leaves behind, read by later commands (down, status)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def read(path: Path, parse: Callable[[dict[str, Any]], T]) -> T | None:
    """The parsed record, or None when there is none or it is unreadable (treated as not running)."""
    try:
        return parse(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(path: Path, data: dict[str, Any]) -> None:
    """Write via a temporary file and rename, so a reader never sees half a record. The temporary
    file is unique per write: two writers of one record (a supervisor thread and its replacement)
    sharing one name would rename each other's file away, and the loser's rename fails."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    partial = Path(name)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
