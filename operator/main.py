"""The operator process: kopf settings, shared clients, health and metrics, then kopf's loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import kopf
import uvloop
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.crds.annotations import FINALIZER, PREFIX
from tradeplane.operator import handlers
from tradeplane.operator.engine import OperatorContext
from tradeplane.operator.handlers import RESYNC_SECONDS
from tradeplane.operator.kube import KubeClient
from tradeplane.operator.metrics import serve
from tradeplane.operator.resync import sweep_forever
from tradeplane.operator.workload_driver import workload_driver
from tradeplane.runtime.kubeapi import api_client
from tradeplane.runtime.store.engine import create_engine, database_url

IO_THREADS = 10
"""Threads for the synchronous Kubernetes client and workload driver calls: as many as the client
keeps connections to the API server (``connection_pool_maxsize``, 5 per CPU, at least 10 here),
so a burst reuses open TLS connections instead of handshaking for every call beyond the pool."""
DATABASE_CONNECTIONS = 16
"""Kept open: a GitOps sync reconciles many objects at once, and each pass appends audit records
or reads snapshots; a connection opened per pass beyond a small pool costs a server backend."""


async def _open_pool(database: AsyncEngine) -> None:
    """Open the pool's connections now: the first passes of a burst (a GitOps sync, a restart
    resuming every object) then do not each pay for a connect, a server backend and the driver's
    type introspection while objects queue up; a bad DATABASE_URL fails at start."""
    async with contextlib.AsyncExitStack() as stack:
        await asyncio.gather(
            *(stack.enter_async_context(database.connect()) for _ in range(DATABASE_CONNECTIONS))
        )


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: Any, **kwargs: Any) -> None:
    # Our own prefix for finalizer and bookkeeping annotations: GitOps ignore rules stay simple and
    # the storages never need migrating later (reference: kopf storage transitions).
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PREFIX, key="last-handled-configuration"
    )
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 301
    settings.watching.connect_timeout = 30
    settings.posting.level = logging.WARNING  # transitions are posted by the audit trail, with hashes
    settings.execution.max_workers = 8
    io = ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="tradeplane-io")
    asyncio.get_running_loop().set_default_executor(io)
    api = api_client(os.environ.get("KUBECONFIG"))
    api.rest_client.pool_manager.connection_pool_kw["maxsize"] = IO_THREADS
    driver, database_secret = workload_driver(api)
    memo.context = OperatorContext(
        kube=KubeClient(api),
        database=create_engine(database_url(), pool_size=DATABASE_CONNECTIONS),
        workloads=driver,
        database_secret=database_secret,
        venue_session=aiohttp.ClientSession(),
    )
    await _open_pool(memo.context.database)
    # kopf hands operator-level handlers its live indexes; the sweep reads their due times.
    memo.resync = asyncio.create_task(sweep_forever(kwargs, memo.context.kube, RESYNC_SECONDS))


@kopf.on.cleanup()
async def close(memo: Any, **_: Any) -> None:
    resync: asyncio.Task[None] | None = getattr(memo, "resync", None)
    if resync is not None:
        resync.cancel()
    context: OperatorContext | None = getattr(memo, "context", None)
    if context is not None:
        if context.workloads is not None:
            # local children live no longer than their supervisor; a cluster's Deployments do
            await asyncio.to_thread(context.workloads.close)
        await context.kube.close()
        if context.venue_session is not None:
            await context.venue_session.close()
        await context.database.dispose()


def run(
    namespaces: list[str],
    all_namespaces: bool,
    liveness_port: int,
    metrics_port: int,
    bind_address: str,
) -> None:
    """Run until SIGTERM/SIGINT; kopf handles the signals and the cleanup handlers."""
    assert handlers.DECIDERS, "handlers are registered on import"
    serve(bind_address, metrics_port)
    liveness = f"http://{bind_address}:{liveness_port}/healthz" if liveness_port else None
    kopf.configure(verbose=False)
    # uvloop, as ``kopf run`` would pick: every pass is a chain of awaits (database, API server,
    # venue), and a burst of objects makes the loop's per-await cost the reconcile latency
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        kopf.run(
            loop=runner.get_loop(),
            standalone=True,
            clusterwide=all_namespaces,
            namespaces=namespaces,
            liveness_endpoint=liveness,
            memo=kopf.Memo(),
        )
