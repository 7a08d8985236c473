"""Two real processes, one lease: a holder frozen with SIGSTOP until its lease expired and was
taken over cannot write anything when it resumes (the fencing token refuses it)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from integration.marketdata_store.builders import KEY, MINUTE, START, bar
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.runtime.marketdata import lease, store

pytestmark = pytest.mark.integration

CHILD = Path(__file__).with_name("lease_child.py")
TESTS = Path(__file__).parents[2]


async def line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    return (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode().strip()


async def send(process: asyncio.subprocess.Process, text: str) -> None:
    assert process.stdin is not None
    process.stdin.write(f"{text}\n".encode())
    await process.stdin.drain()


async def test_a_resumed_former_holder_is_fenced_off(engine: AsyncEngine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), url, "first", "1.5",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert await line(child) == "HOLDING 1"
        for minute in range(3):
            await send(child, f"write {minute}")
            assert await line(child) == f"WROTE {minute}"
        child.send_signal(signal.SIGSTOP)

        # The frozen holder cannot renew; once its lease expires by the database's clock, take over.
        standby = lease.wait_for_lease(
            engine, KEY, "second", ttl=timedelta(minutes=5), poll_s=0.1, stopping=asyncio.Event()
        )
        second = await asyncio.wait_for(standby, timeout=60)
        assert second is not None and (second.holder, second.token) == ("second", 2)

        await send(child, "write 3")  # queued while frozen: the first thing it does on waking
        await send(child, "write 4")
        child.send_signal(signal.SIGCONT)
        for _ in range(2):
            assert await line(child) == "LOST lease on prod/bingx:XAUT-USDT lost: first token 1 refused; " + (
                f"now second token 2 (live until {second.expires_at.isoformat()})"
            )
        await send(child, "exit")
        assert await asyncio.wait_for(child.wait(), timeout=60) == 0
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGCONT)
            child.kill()
            await child.wait()
    written = await store.candle_open_times(engine, KEY, "1m", START, START + 10 * MINUTE)
    assert written == [bar(m).open_time for m in range(3)], "nothing the resumed holder tried is stored"
    assert await lease.current_holder(engine, KEY) == second
