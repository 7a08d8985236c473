"""Workloads as supervised local child processes: the embedded default has no kubelet.

Each workload gets one supervisor thread that starts its command in a process group of its own,
waits for it, and restarts it per the restart policy with capped exponential backoff, like a
kubelet would. Stopping is by process group (``host.processes.stop``), so whatever the command
started goes too.

The child is started here with ``subprocess.Popen`` rather than ``host.processes.spawn``
because the supervisor needs the exit status (``on-failure``, job success) and ``spawn`` drops the
Popen handle: the status would then be reaped by whoever polls first. Everything else (the record,
group stop, log tail) is the shared implementation.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import psutil

from tradeplane.runtime.host import processes, statefile
from tradeplane.runtime.host.paths import state_dir
from tradeplane.runtime.host.processes import ProcessRecord
from tradeplane.runtime.workloads.spec import (
    RestartPolicy,
    WorkloadDriver,
    WorkloadRef,
    WorkloadSpec,
    WorkloadStatus,
)
from tradeplane.runtime.workloads.verdict import last_error

log = logging.getLogger(__name__)

SecretResolver = Callable[[str, str, str], str]
"""(namespace, Secret name, key) -> value; the operator reads it from the API at each start."""

_STARTING, _RUNNING, _BACKOFF = "starting", "running", "backoff"
_SUCCEEDED, _FAILED, _STOPPED = "succeeded", "failed", "stopped"
START_FAILED = 127  # the shell's "command not found", so logs read as they would from a shell


def local_argv(argv: tuple[str, ...]) -> list[str]:
    """``tradeplane ...`` runs with this interpreter, so a child uses the operator's own venv even
    when its ``bin/`` is not on PATH."""
    if argv[0] == "tradeplane":
        return [sys.executable, "-m", "tradeplane.cli", *argv[1:]]
    return list(argv)


class _Supervised:
    """One workload's child and its history; all fields are guarded by ``lock``."""

    def __init__(self, driver: LocalProcessDriver, spec: WorkloadSpec) -> None:
        self.driver = driver
        self.spec = spec
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.record: ProcessRecord | None = None
        self.restarts = 0
        self.exit_code: int | None = None
        self.phase = _STARTING
        self.message = "starting"
        self.thread = threading.Thread(
            target=self._run, name=f"workload-{spec.namespace}.{spec.name}", daemon=True
        )

    # -- supervisor thread ---------------------------------------------------------------------

    def _run(self) -> None:
        """A supervisor that dies silently would leave a stale "running" status; say so instead."""
        try:
            self._supervise()
        except Exception as exc:
            log.exception("supervisor of %s.%s crashed", self.spec.namespace, self.spec.name)
            with self.lock:
                self.phase, self.message = _FAILED, f"supervisor crashed: {type(exc).__name__}: {exc}"

    def _supervise(self) -> None:
        failures = 0  # consecutive short-lived runs, for the backoff exponent
        attempt = 0
        while not self.stopping.is_set():
            try:
                env = self.driver._child_env(self.spec)
            except Exception as exc:  # the resolver is the operator's; any failure means "wait"
                self._set(_STARTING, f"waiting for secrets: {type(exc).__name__}: {exc}")
                failures += 1
                if self.stopping.wait(self.driver._delay(failures)):
                    break
                continue
            proc: subprocess.Popen[bytes] | None = None
            outcome, code = "not started", START_FAILED
            with self.lock:
                if self.stopping.is_set():
                    break
                self.restarts = attempt
                try:
                    proc, record = self.driver._start(self.spec, env, attempt)
                except OSError as exc:  # a missing executable: a crash loop, as a kubelet would see it
                    outcome, code = f"could not start: {exc}", START_FAILED
                else:
                    self.record, self.exit_code = record, None
                    self.phase, self.message = _RUNNING, f"running (pid {record.pid})"
                    self._save()
            attempt += 1
            started = time.monotonic()
            if proc is not None:
                code = proc.wait()
                outcome = f"exited with code {code}"
            if self.stopping.is_set():
                break
            ran = time.monotonic() - started
            failures = 0 if ran >= self.driver.stable_after else failures + 1
            self._append_log(f"{outcome} after {ran:.1f}s")
            if not self._restart_after(code, outcome):
                break
            delay = self.driver._delay(failures)
            self._set(_BACKOFF, f"{outcome}; restarting in {delay:.1f}s", code)
            if self.stopping.wait(delay):
                break

    def _restart_after(self, code: int, outcome: str) -> bool:
        """Decide per policy; record a terminal phase when not restarting."""
        policy = self.spec.effective_restart_policy
        if policy is RestartPolicy.ALWAYS:
            return True
        if code == 0:
            self._set(_SUCCEEDED, "completed", code)
            return False
        if policy is RestartPolicy.ON_FAILURE and self.restarts < self.spec.backoff_limit:
            return True
        reason = "restart policy never" if policy is RestartPolicy.NEVER else "backoff limit reached"
        self._set(_FAILED, f"{outcome} ({reason})", code)
        return False

    def _set(self, phase: str, message: str, code: int | None = None) -> None:
        with self.lock:
            self.phase, self.message = phase, message
            if code is not None:
                self.exit_code = code
            self._save()

    def _append_log(self, line: str) -> None:
        with self.driver.log_path(self.spec).open("a") as out:
            out.write(f"[tradeplane] {line}\n")

    def _save(self) -> None:
        path = self.driver._state_path(self.spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        statefile.write(
            path,
            {
                "process": self.record.to_json() if self.record else None,
                "restarts": self.restarts,
                "exit_code": self.exit_code,
                "phase": self.phase,
                "message": self.message,
            },
        )

    # -- called by the driver --------------------------------------------------------------------

    def stop(self, timeout: float) -> None:
        self.stopping.set()
        with self.lock:
            record = self.record
        if record is not None:
            processes.stop([record], timeout=timeout)
        self.thread.join(timeout)
        with self.lock, contextlib.suppress(OSError):  # the record is advisory; stopping matters
            self.phase, self.message = _STOPPED, "stopped"
            self._save()

    def status(self) -> WorkloadStatus:
        with self.lock:
            running = self.phase == _RUNNING
            return WorkloadStatus(
                exists=True,
                ready=running,
                running=running,
                succeeded=self.phase == _SUCCEEDED,
                failed=self.phase == _FAILED,
                restarts=self.restarts,
                message=self.message,
            )


def _stop_recorded(path: Path, timeout: float) -> str | None:
    record = statefile.read(
        path, lambda data: ProcessRecord.from_json(data["process"]) if data.get("process") else None
    )
    if record is None or not processes.is_running(record):
        return None
    log.info("stopping %s left running by a previous driver (pid %d)", record.name, record.pid)
    processes.stop([record], timeout=timeout)
    return record.name


def stop_recorded_workloads(state_root: Path, timeout: float = processes.STOP_TIMEOUT_SECONDS) -> list[str]:
    """Stop every workload a driver rooted at ``state_root`` recorded and left running.

    ``tradeplane down`` calls it after stopping the operator: an operator killed before its own
    cleanup would otherwise leave its children (ingestors) running with no supervisor.
    """
    stopped = []
    for path in sorted((state_root / "workloads").glob("*.json")):
        name = _stop_recorded(path, timeout)
        if name is not None:
            stopped.append(name)
        path.unlink(missing_ok=True)
    return stopped


class LocalProcessDriver:
    """Supervised child processes, one per workload; the operator owns it and calls ``close()``.

    Children inherit the driver's environment (PATH, kubeconfig, database URL of the embedded
    system), then the spec's plain env, then secrets from ``secret_resolver``. Secret values are
    only ever placed in the child's environment: never in logs, state files or status messages.

    ``spec.volumes`` is ignored: a claim exists to outlive a pod, and a local child writes to the
    operator's own filesystem, which already does. Reconcilers therefore pass a mounted path to a
    workload only together with its mount (the dataset build's ``--output``), never a bare path.
    """

    def __init__(
        self,
        secret_resolver: SecretResolver | None = None,
        state_root: Path | None = None,
        *,
        base_env: Mapping[str, str] | None = None,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        stable_after: float = 60.0,
        stop_timeout: float = processes.STOP_TIMEOUT_SECONDS,
    ) -> None:
        self.secret_resolver = secret_resolver
        self.root = state_root or state_dir()
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.stop_timeout = stop_timeout
        self._lock = threading.Lock()
        self._children: dict[tuple[str, str], _Supervised] = {}

    def __enter__(self) -> LocalProcessDriver:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def log_path(self, spec: WorkloadSpec) -> Path:
        return self.root / "logs" / f"{spec.namespace}.{spec.name}.log"

    def _state_path(self, spec: WorkloadSpec | WorkloadRef) -> Path:
        return self.root / "workloads" / f"{spec.namespace}.{spec.name}.json"

    def apply(self, spec: WorkloadSpec) -> None:
        """Start the workload unless it is already supervised with this very spec (a finished job
        stays finished, as a completed Job does); a changed spec replaces the child."""
        if spec.secret_env and self.secret_resolver is None:
            raise ValueError(f"{spec.name} takes env from Secrets but the driver has no secret resolver")
        key = (spec.namespace, spec.name)
        with self._lock:
            current = self._children.get(key)
            if current is not None and current.spec == spec:
                return
            if current is not None:
                current.stop(self.stop_timeout)
            else:
                self._stop_stale(spec)
            supervised = _Supervised(self, spec)
            self._children[key] = supervised
            supervised.thread.start()

    def status(self, spec: WorkloadSpec) -> WorkloadStatus:
        with self._lock:
            supervised = self._children.get((spec.namespace, spec.name))
        if supervised is None:
            return WorkloadStatus(exists=False, message=f"{spec.namespace}/{spec.name} is not running here")
        return supervised.status()

    @property
    def runs_in_pods(self) -> bool:
        return False

    @property
    def owns_cleanup(self) -> bool:
        return True

    def failure_detail(self, spec: WorkloadSpec) -> str | None:
        """The child's last verdict from its log, which the supervisor's status cannot carry."""
        return last_error(self.log_path(spec))

    def process(self, spec: WorkloadSpec) -> ProcessRecord | None:
        """The current (or last) child, so callers can show its pid and log."""
        with self._lock:
            supervised = self._children.get((spec.namespace, spec.name))
        if supervised is None:
            return None
        with supervised.lock:
            return supervised.record

    def delete(self, ref: WorkloadRef) -> None:
        with self._lock:
            supervised = self._children.pop((ref.namespace, ref.name), None)
            if supervised is not None:
                supervised.stop(self.stop_timeout)
            else:
                self._stop_stale(ref)
            self._state_path(ref).unlink(missing_ok=True)

    def close(self) -> None:
        """Stop every child: the driver's lifetime bounds theirs, so no orphan outlives the operator."""
        with self._lock:
            children, self._children = list(self._children.values()), {}
        for supervised in children:
            supervised.stop(self.stop_timeout)

    # -- helpers used by supervisors -------------------------------------------------------------

    def _stop_stale(self, spec: WorkloadSpec | WorkloadRef) -> None:
        """A previous driver (an operator that crashed) may have left this workload's child running;
        stop it by its recorded group so there are never two copies."""
        _stop_recorded(self._state_path(spec), self.stop_timeout)

    def _delay(self, failures: int) -> float:
        return min(self.backoff_initial * 2.0 ** max(failures - 1, 0), self.backoff_max)

    def _child_env(self, spec: WorkloadSpec) -> dict[str, str]:
        env = {**self.base_env, "PYTHONUNBUFFERED": "1", **spec.env}
        for ref in spec.secret_env:
            assert self.secret_resolver is not None  # apply() refuses otherwise
            env[ref.env] = self.secret_resolver(spec.namespace, ref.secret, ref.key)
        return env

    def _start(
        self, spec: WorkloadSpec, env: Mapping[str, str], attempt: int
    ) -> tuple[subprocess.Popen[bytes], ProcessRecord]:
        """Like ``processes.spawn`` (own session, output appended to the log) but keeping the Popen,
        whose ``wait()`` is the only reliable source of the exit status."""
        path = self.log_path(spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        argv = local_argv(spec.argv)
        with path.open("ab") as out:
            out.write(f"[tradeplane] start #{attempt}: {' '.join(spec.argv)}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                env=dict(env),
            )
        try:
            create_time = psutil.Process(proc.pid).create_time()
        except psutil.NoSuchProcess:
            create_time = 0.0
        name = f"{spec.namespace}.{spec.name}"
        log.info("started workload %s (pid %d, attempt %d)", name, proc.pid, attempt)
        return proc, ProcessRecord(name, proc.pid, proc.pid, create_time, tuple(argv), str(path))


if TYPE_CHECKING:  # mypy proves the driver meets the interface reconcilers are written against
    _CONFORMS: type[WorkloadDriver] = LocalProcessDriver
