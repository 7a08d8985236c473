"""Detached, recorded child processes: started in their own process group, stopped by that group.

A record keeps pid, process group and start time, so a later ``down`` (from another command
invocation) signals exactly what ``up`` started and never a process that merely reused a pid.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from tradeplane.runtime.errors import UserError

STOP_TIMEOUT_SECONDS = 20.0
_CREATE_TIME_TOLERANCE = 0.05


class ComponentFailed(UserError):
    """A component exited or never became healthy; the message ends with its log tail."""


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    pid: int
    pgid: int
    create_time: float
    argv: tuple[str, ...]
    log: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["argv"] = list(self.argv)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProcessRecord:
        return cls(
            name=data["name"],
            pid=int(data["pid"]),
            pgid=int(data["pgid"]),
            create_time=float(data["create_time"]),
            argv=tuple(data["argv"]),
            log=data["log"],
        )


def log_tail(path: str | Path, lines: int = 30) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def spawn(
    name: str,
    argv: Sequence[str],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: pwd.struct_passwd | None = None,
) -> ProcessRecord:
    """Start ``argv`` in a new session with output appended to ``log``; survives our own exit.

    With ``user``, the child drops to that account's uid, primary gid and no supplementary groups,
    so it keeps nothing of ours (root's group included).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
        )
    try:
        create_time = psutil.Process(proc.pid).create_time()
    except psutil.NoSuchProcess:
        create_time = 0.0
    return ProcessRecord(name, proc.pid, proc.pid, create_time, tuple(argv), str(log))


def _leader(record: ProcessRecord) -> psutil.Process | None:
    try:
        proc = psutil.Process(record.pid)
        if abs(proc.create_time() - record.create_time) > _CREATE_TIME_TOLERANCE:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            _reap(record.pid)
            return None
    except psutil.NoSuchProcess:
        return None
    return proc


def _reap(pid: int) -> None:
    """Collect a dead child of ours so it does not linger as a zombie in its process group."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def is_running(record: ProcessRecord) -> bool:
    return _leader(record) is not None


def group_members(record: ProcessRecord) -> list[psutil.Process]:
    """Live processes still in the record's group that were started no earlier than its leader."""
    members = []
    for proc in psutil.process_iter(["pid", "create_time", "status"]):
        try:
            if (
                os.getpgid(proc.pid) == record.pgid
                and proc.info["create_time"] + _CREATE_TIME_TOLERANCE >= record.create_time
                and proc.info["status"] != psutil.STATUS_ZOMBIE
            ):
                members.append(proc)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


def stop(records: Sequence[ProcessRecord], timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM each recorded group, wait, then SIGKILL what is left; only our own groups."""
    targets: list[psutil.Process] = []
    for record in records:
        members = group_members(record)
        for proc in members:
            try:
                proc.send_signal(signal.SIGTERM)
            except psutil.NoSuchProcess:
                continue
        targets.extend(members)
    _, alive = psutil.wait_procs(targets, timeout=timeout)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=timeout)
    for record in records:
        _reap(record.pid)


def wait_until(
    check: Callable[[], bool],
    record: ProcessRecord,
    timeout: float,
    what: str,
    interval: float = 0.1,
) -> None:
    """Poll ``check`` until it holds; fail fast with the log tail if the process exits first."""
    deadline = time.monotonic() + timeout
    while True:
        if not is_running(record):
            raise ComponentFailed(
                f"{record.name} exited before it was {what}. Last lines of {record.log}:\n"
                f"{log_tail(record.log)}"
            )
        if check():
            return
        if time.monotonic() > deadline:
            raise ComponentFailed(
                f"{record.name} was not {what} within {timeout:.0f}s. Last lines of {record.log}:\n"
                f"{log_tail(record.log)}"
            )
        time.sleep(interval)
