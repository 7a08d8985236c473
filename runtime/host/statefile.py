"""The JSON record a background component leaves behind, read by later commands (down, status), and
the atomic file write it and other writers of whole files (dataset snapshots) use."""

from __future__ import annotations

import json
import os
import threading
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
    """The record as JSON, written atomically (``write_atomic``)."""
    write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def write_atomic(path: Path, data: bytes) -> None:
    """Write a temporary file, flush it to disk and rename it over ``path``, so a reader never sees
    half a file. The temporary name is unique per process and thread: two writers of one path (a
    supervisor thread and its replacement) sharing one name would rename each other's file away,
    and the loser's rename fails."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with partial.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
