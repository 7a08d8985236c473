"""A background service living in a throwaway directory for the length of a test session."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

S = TypeVar("S")


@contextmanager
def scratch_service(prefix: str, make: Callable[[Path], S], stop: Callable[[S], object]) -> Iterator[S]:
    """Create the service under a fresh temp dir; stop it and remove the dir afterwards, and at
    interpreter exit too, so a crashed or interrupted session leaves no process behind."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    service = make(root)

    def cleanup() -> None:
        stop(service)
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(cleanup)
    try:
        yield service
    finally:
        cleanup()
        atexit.unregister(cleanup)
