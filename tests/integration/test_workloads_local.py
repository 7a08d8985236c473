"""The local-process driver with real children: start, log, restart per policy, stop by group."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tradeplane import __version__
from tradeplane.runtime.host.processes import ProcessRecord
from tradeplane.runtime.workloads import RestartPolicy, SecretEnv, WorkloadKind, WorkloadSpec, WorkloadStatus
from tradeplane.runtime.workloads.local import LocalProcessDriver, stop_recorded_workloads

pytestmark = pytest.mark.integration

TIMEOUT = 30.0
SECRET = "pa55-w0rd-that-must-not-leak"

BLOCK = "import os, threading; print('hello', os.getpid(), flush=True); threading.Event().wait()"
FAMILY = (
    "import os, subprocess, sys, threading;"
    "child = subprocess.Popen([sys.executable, '-c', 'import threading; threading.Event().wait()']);"
    "print('family', os.getpid(), child.pid, flush=True); threading.Event().wait()"
)


def eventually(check: Callable[[], object], what: str) -> None:
    """Poll an observable condition with a deadline; the failure names what never happened."""
    deadline = time.monotonic() + TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {TIMEOUT}s: {what}")
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def spec(name: str, script: str, kind: WorkloadKind = WorkloadKind.SERVICE, **extra: object) -> WorkloadSpec:
    return WorkloadSpec(
        name=name,
        namespace="demo",
        kind=kind,
        component="ingestor",
        command=(sys.executable, "-c", script),
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[LocalProcessDriver]:
    local = LocalProcessDriver(lambda ns, name, key: SECRET, tmp_path, backoff_initial=0.01, stop_timeout=5)
    yield local
    local.close()


def pid_of(driver: LocalProcessDriver, workload: WorkloadSpec) -> int:
    record = driver.process(workload)
    assert record is not None
    return record.pid


def log_text(driver: LocalProcessDriver, workload: WorkloadSpec) -> str:
    path = driver.log_path(workload)
    return path.read_text() if path.exists() else ""


def output(driver: LocalProcessDriver, workload: WorkloadSpec, prefix: str) -> list[str]:
    """Lines the child printed that start with ``prefix`` (the driver's own lines quote the script)."""
    return [row for row in log_text(driver, workload).splitlines() if row.startswith(prefix)]


def test_starts_logs_and_restarts_after_kill(driver: LocalProcessDriver, tmp_path: Path) -> None:
    workload = spec("ingest", BLOCK)
    driver.apply(workload)
    assert driver.log_path(workload) == tmp_path / "logs" / "demo.ingest.log"
    eventually(lambda: output(driver, workload, "hello "), "the child wrote its line")
    first = pid_of(driver, workload)
    assert output(driver, workload, "hello ") == [f"hello {first}"]
    assert driver.status(workload) == WorkloadStatus(
        exists=True, ready=True, running=True, message=f"running (pid {first})"
    )

    os.kill(first, signal.SIGKILL)
    eventually(lambda: driver.status(workload).restarts == 1, "the supervisor restarted the child")
    second = pid_of(driver, workload)
    assert second != first
    assert not alive(first)
    eventually(
        lambda: f"hello {second}" in output(driver, workload, "hello "), "the new child wrote its line"
    )
    status = driver.status(workload)
    assert status.running and status.ready and status.restarts == 1
    assert "exited with code -9" in log_text(driver, workload)


def test_policy_never_is_not_restarted(driver: LocalProcessDriver) -> None:
    workload = spec("never", BLOCK, WorkloadKind.JOB, restart_policy=RestartPolicy.NEVER)
    driver.apply(workload)
    eventually(lambda: output(driver, workload, "hello "), "the child wrote its line")
    pid = pid_of(driver, workload)
    os.kill(pid, signal.SIGKILL)
    eventually(lambda: driver.status(workload).failed, "the job failed")
    status = driver.status(workload)
    assert status.restarts == 0 and not status.running and not status.succeeded
    assert status.message == "exited with code -9 (restart policy never)"
    assert pid_of(driver, workload) == pid
    assert log_text(driver, workload).count("[tradeplane] start") == 1


def test_on_failure_with_exit_zero_succeeds_without_restart(driver: LocalProcessDriver) -> None:
    workload = spec("done", "print('done')", WorkloadKind.JOB)
    assert workload.effective_restart_policy is RestartPolicy.ON_FAILURE
    driver.apply(workload)
    eventually(lambda: driver.status(workload).succeeded, "the job succeeded")
    status = driver.status(workload)
    assert status == WorkloadStatus(exists=True, succeeded=True, message="completed")
    assert log_text(driver, workload).count("[tradeplane] start") == 1
    driver.apply(workload)  # a finished job stays finished, as a completed Job does
    assert driver.status(workload).succeeded
    assert log_text(driver, workload).count("[tradeplane] start") == 1


def test_on_failure_retries_up_to_the_backoff_limit(driver: LocalProcessDriver) -> None:
    workload = spec("flaky", "import sys; sys.exit(3)", WorkloadKind.JOB, backoff_limit=2)
    driver.apply(workload)
    eventually(lambda: driver.status(workload).failed, "the job failed")
    status = driver.status(workload)
    assert status.restarts == 2
    assert status.message == "exited with code 3 (backoff limit reached)"
    assert log_text(driver, workload).count("[tradeplane] start") == 3


def test_a_missing_executable_fails_like_a_crash_loop(driver: LocalProcessDriver, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-binary")
    workload = WorkloadSpec(
        name="missing",
        namespace="demo",
        kind=WorkloadKind.JOB,
        component="cli",
        command=(missing,),
        backoff_limit=1,
    )
    driver.apply(workload)
    eventually(lambda: driver.status(workload).failed, "the job failed")
    status = driver.status(workload)
    assert status.restarts == 1
    assert status.message.startswith("could not start: [Errno 2]")
    assert status.message.endswith("(backoff limit reached)")
    assert driver.process(workload) is None


def test_a_crashed_supervisor_reports_failed_and_still_stops_its_child(tmp_path: Path) -> None:
    (tmp_path / "workloads").write_text("not a directory: the state file cannot be written\n")
    workload = spec("unsaved", BLOCK)
    with LocalProcessDriver(state_root=tmp_path, stop_timeout=5) as driver:
        driver.apply(workload)
        eventually(lambda: driver.status(workload).failed, "the supervisor reported its crash")
        assert driver.status(workload).message.startswith("supervisor crashed: FileExistsError")
        record = driver.process(workload)
        assert record is not None
    assert not alive(record.pid)


def test_delete_leaves_no_process_behind(driver: LocalProcessDriver, tmp_path: Path) -> None:
    workload = spec("family", FAMILY)
    driver.apply(workload)
    eventually(lambda: output(driver, workload, "family "), "the child started its own child")
    _, leader, grandchild = output(driver, workload, "family ")[0].split()
    leader_pid, grandchild_pid = int(leader), int(grandchild)
    assert alive(leader_pid) and alive(grandchild_pid)
    assert (tmp_path / "workloads" / "demo.family.json").exists()

    driver.delete(workload.ref)
    assert not alive(leader_pid)
    eventually(lambda: not alive(grandchild_pid), "the grandchild is gone")
    assert driver.status(workload) == WorkloadStatus(exists=False, message="demo/family is not running here")
    assert not (tmp_path / "workloads" / "demo.family.json").exists()
    driver.delete(workload.ref)  # idempotent


def test_close_stops_every_child(tmp_path: Path) -> None:
    driver = LocalProcessDriver(state_root=tmp_path, backoff_initial=0.01, stop_timeout=5)
    workloads = [spec(f"w{i}", BLOCK) for i in range(3)]
    for workload in workloads:
        driver.apply(workload)
    for workload in workloads:
        eventually(lambda w=workload: output(driver, w, "hello "), f"{workload.name} started")
    pids = [pid_of(driver, w) for w in workloads]
    driver.close()
    assert not any(alive(pid) for pid in pids)
    for workload in workloads:
        state = json.loads((tmp_path / "workloads" / f"demo.{workload.name}.json").read_text())
        assert state["phase"] == "stopped"


def test_secret_reaches_the_child_but_never_the_log_or_status(tmp_path: Path) -> None:
    asked: list[tuple[str, str, str]] = []

    def resolver(namespace: str, name: str, key: str) -> str:
        asked.append((namespace, name, key))
        return SECRET

    script = (
        "import hashlib, os, threading;"
        "print('digest', hashlib.sha256(os.environ['API_KEY'].encode()).hexdigest(), flush=True);"
        "print('plain', os.environ['LEVEL'], flush=True); threading.Event().wait()"
    )
    workload = spec(
        "secret",
        script,
        env={"LEVEL": "debug"},
        secret_env=(SecretEnv(env="API_KEY", secret="bingx-paper", key="api-key"),),
    )
    with LocalProcessDriver(resolver, tmp_path, backoff_initial=0.01, stop_timeout=5) as driver:
        driver.apply(workload)
        digest = hashlib.sha256(SECRET.encode()).hexdigest()
        eventually(lambda: output(driver, workload, "digest "), "the child saw the secret")
        assert output(driver, workload, "digest ") == [f"digest {digest}"]
        assert output(driver, workload, "plain ") == ["plain debug"]
        assert asked == [("demo", "bingx-paper", "api-key")]
        assert SECRET not in log_text(driver, workload)
        assert SECRET not in repr(driver.status(workload))
        state = (tmp_path / "workloads" / "demo.secret.json").read_text()
        assert SECRET not in state
        assert json.loads(state)["phase"] == "running"


def test_waits_for_a_missing_secret_then_starts(tmp_path: Path) -> None:
    available = threading.Event()

    def resolver(namespace: str, name: str, key: str) -> str:
        if not available.is_set():
            raise KeyError(f"Secret {namespace}/{name} has no key {key}")
        return SECRET

    workload = spec("later", BLOCK, secret_env=(SecretEnv(env="K", secret="s", key="k"),))
    with LocalProcessDriver(resolver, tmp_path, backoff_initial=0.01, backoff_max=0.05) as driver:
        driver.apply(workload)
        eventually(
            lambda: driver.status(workload).message.startswith("waiting for secrets: KeyError"),
            "the driver reported the missing secret",
        )
        status = driver.status(workload)
        assert not status.running and not status.failed and status.restarts == 0
        assert driver.process(workload) is None
        available.set()
        eventually(lambda: driver.status(workload).running, "the child started once the secret existed")
        assert driver.status(workload).restarts == 0


def test_secret_refs_need_a_resolver(tmp_path: Path) -> None:
    with LocalProcessDriver(state_root=tmp_path) as driver, pytest.raises(ValueError, match="resolver"):
        driver.apply(spec("x", BLOCK, secret_env=(SecretEnv(env="K", secret="s", key="k"),)))


def test_apply_is_idempotent_and_a_changed_spec_replaces_the_child(driver: LocalProcessDriver) -> None:
    workload = spec("same", BLOCK)
    driver.apply(workload)
    eventually(lambda: output(driver, workload, "hello "), "the child started")
    pid = pid_of(driver, workload)
    driver.apply(workload)
    assert pid_of(driver, workload) == pid
    changed = workload.model_copy(update={"env": {"MODE": "paper"}})
    driver.apply(changed)
    assert not alive(pid)
    eventually(lambda: driver.status(changed).running, "the replacement started")
    assert pid_of(driver, changed) != pid
    assert driver.status(changed).restarts == 0


def test_a_child_left_by_a_previous_driver_is_replaced(tmp_path: Path) -> None:
    workload = spec("orphan", BLOCK, WorkloadKind.JOB, restart_policy=RestartPolicy.NEVER)
    first = LocalProcessDriver(state_root=tmp_path, stop_timeout=5)
    second = LocalProcessDriver(state_root=tmp_path, stop_timeout=5)
    try:
        first.apply(workload)
        eventually(lambda: first.status(workload).running, "the first driver's child runs")
        old: ProcessRecord | None = first.process(workload)
        assert old is not None
        second.apply(workload)
        assert not alive(old.pid)
        eventually(lambda: second.status(workload).running, "the second driver's child runs")
        assert pid_of(second, workload) != old.pid
    finally:
        first.close()
        second.close()


def test_tradeplane_commands_run_with_this_interpreter(driver: LocalProcessDriver) -> None:
    workload = WorkloadSpec(
        name="version",
        namespace="demo",
        kind=WorkloadKind.JOB,
        component="cli",
        command=("tradeplane", "version"),
    )
    driver.apply(workload)
    eventually(
        lambda: driver.status(workload).succeeded or driver.status(workload).failed, "the job finished"
    )
    assert driver.status(workload).succeeded, log_text(driver, workload)
    assert output(driver, workload, __version__) == [__version__]


def test_default_state_root_is_the_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEPLANE_HOME", str(tmp_path))
    with LocalProcessDriver() as driver:
        assert driver.log_path(spec("x", BLOCK)) == tmp_path / "logs" / "demo.x.log"


def test_workloads_of_a_driver_that_never_closed_are_stopped_from_their_records(tmp_path: Path) -> None:
    """What `tradeplane down` relies on after an operator was killed before its own cleanup."""
    workload = spec("abandoned", BLOCK)
    abandoned = LocalProcessDriver(state_root=tmp_path, stop_timeout=5)
    abandoned.apply(workload)
    eventually(lambda: abandoned.status(workload).running, "the child runs")
    record = abandoned.process(workload)
    assert record is not None
    assert stop_recorded_workloads(tmp_path, timeout=5) == [record.name]
    assert not alive(record.pid)
    assert stop_recorded_workloads(tmp_path, timeout=5) == [], "the records are gone with the processes"
    abandoned.close()
