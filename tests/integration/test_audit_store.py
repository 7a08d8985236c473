"""The audit log in a real PostgreSQL: migration, appends, idempotent retries, concurrency,
privileges, and tampering (as a superuser) found by ``verify`` and ``tradeplane audit verify``.

Tampering needs a superuser that sets ``tradeplane.audit_rewrite``; with ``DATABASE_URL`` set, the
role in it must be a superuser (the embedded server's role is).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from harness.postgres import execute, fetch
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from tradeplane.runtime.audit import chain, kube, store
from tradeplane.runtime.audit.cli import audit_app
from tradeplane.runtime.audit.record import ObjectRef, Transition
from tradeplane.runtime.store import APP_ROLE, migrate

pytestmark = pytest.mark.integration

TABLE = "tradeplane.audit_log"
CANARY = ObjectRef(
    kind="Rollout",
    namespace="prod",
    name="gold-canary",
    uid="5f1c8a52-6c1e-4c39-9f43-2b7f0e0a1c01",
    generation=2,
)
LIMITS = ObjectRef(
    kind="RiskPolicy",
    namespace="prod",
    name="limits",
    uid="9a7d3e11-0b4f-4c55-8d0e-6f1a2b3c4d02",
    generation=1,
)
START = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
DIGEST = hashlib.sha256(b"model-artifact").hexdigest()


def transition(
    obj: ObjectRef, step: int, *, at: datetime | None = None, token: str | None = None
) -> Transition:
    return Transition(
        object=obj,
        actor="system:serviceaccount:tradeplane:operator",
        from_state=f"Step{step - 1}",
        to_state=f"Step{step}",
        reason="StepAdvanced",
        message=f"weight {step * 10}%",
        evidence={"model": DIGEST},
        token=str(step - 1) if token is None else token,
        at=at,
    )


def tamper(url: str, *statements: str) -> None:
    """As the superuser, with the deliberate switch the append-only trigger asks for."""
    execute(url, "SET LOCAL tradeplane.audit_rewrite = 'on'", *statements)


@pytest.fixture
def migrated(database_url: str) -> str:
    migrate.upgrade(database_url)
    return database_url


def test_upgrade_from_empty_includes_the_audit_log(database_url: str) -> None:
    assert migrate.current(database_url) is None
    migrate.upgrade(database_url)
    assert migrate.current(database_url) == migrate.head()  # not pinned: later revisions follow

    columns = fetch(
        database_url,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'tradeplane' AND table_name = 'audit_log' ORDER BY ordinal_position",
    )
    assert [name for name, _ in columns] == [
        "id", "object_kind", "object_namespace", "object_name", "object_uid", "seq", "prev_hash", "hash",
        "recorded_at", "actor", "generation", "from_state", "to_state", "reason", "message", "evidence",
        "idempotency_key",
    ]  # fmt: skip
    types = dict(columns)
    assert (types["id"], types["recorded_at"], types["evidence"]) == (
        "bigint",
        "timestamp with time zone",
        "jsonb",
    )
    uniques = fetch(
        database_url,
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        f"WHERE conrelid = '{TABLE}'::regclass AND contype = 'u' ORDER BY conname",
    )
    assert uniques == [("UNIQUE (object_uid, idempotency_key)",), ("UNIQUE (object_uid, seq)",)]
    index = fetch(database_url, "SELECT indexdef FROM pg_indexes WHERE indexname = 'audit_log_object_idx'")
    assert "(object_kind, object_namespace, object_name, seq)" in index[0][0]

    privileges = fetch(
        database_url,
        f"""
        SELECT p, has_table_privilege('{APP_ROLE}', '{TABLE}', p), has_table_privilege('public', '{TABLE}', p)
        FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p
        """,
    )
    assert privileges == [
        ("SELECT", True, False),
        ("INSERT", True, False),
        ("UPDATE", False, False),
        ("DELETE", False, False),
        ("TRUNCATE", False, False),
    ]
    assert fetch(
        database_url, f"SELECT has_sequence_privilege('{APP_ROLE}', 'tradeplane.audit_log_id_seq', 'USAGE')"
    ) == [(True,)]

    migrate.downgrade(database_url, "0001_baseline")
    assert fetch(database_url, f"SELECT to_regclass('{TABLE}') IS NULL") == [(True,)]
    assert fetch(database_url, "SELECT count(*) FROM pg_proc WHERE proname = 'audit_log_append_only'") == [
        (0,)
    ]
    migrate.upgrade(database_url)
    assert migrate.current(database_url) == migrate.head()


async def test_append_builds_a_verifying_chain(engine: AsyncEngine) -> None:
    appended = [await store.append(engine, transition(CANARY, step)) for step in range(1, 6)]
    appended.append(await store.append(engine, transition(LIMITS, 1, at=START)))

    assert [r.seq for r in appended] == [1, 2, 3, 4, 5, 1]
    assert appended[0].prev_hash == chain.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(appended[:5]))
    assert appended[-1].recorded_at == START, "a fixed time is kept as given"
    async with engine.connect() as connection:
        stored = await store.chain_for(connection, "Rollout", "prod", "gold-canary")
        assert stored == appended[:5], "what is read back is what was hashed, field for field"
        assert chain.verify(stored) is None
        head = await store.head(connection, CANARY.uid)
        assert head == appended[4]
        assert await store.head(connection, "no-such-uid") is None
        report = await store.verify_log(connection)
    assert [(c.label, c.records, c.problem) for c in report.chains] == [
        ("Rollout/prod/gold-canary", 5, None),
        ("RiskPolicy/prod/limits", 1, None),
    ]
    assert kube.status_audit(appended[4]) == {"seq": 5, "headHash": f"sha256:{appended[4].hash}"}
    assert [c.problem for c in store.verify_records([*stored, appended[-1]]).chains] == [None, None]


async def test_append_joins_the_callers_transaction(engine: AsyncEngine) -> None:
    """Inside the caller's transaction the record exists only if the caller commits."""
    async with engine.connect() as connection:
        async with connection.begin() as outer:
            rolled_back = await store.append(connection, transition(CANARY, 1))
            await outer.rollback()
        async with connection.begin():
            kept = await store.append(connection, transition(CANARY, 1, token="again"))
        assert (rolled_back.seq, kept.seq) == (1, 1)
        assert await store.chain_for(connection, "Rollout", "prod", "gold-canary") == [kept]


async def test_a_retry_with_the_same_key_returns_the_stored_record(engine: AsyncEngine) -> None:
    """A crash after the append and before the status patch: the retry must not add a record."""
    first = await store.append(engine, transition(CANARY, 1))
    retried = await store.append(engine, transition(CANARY, 1).model_copy(update={"message": "re-run"}))
    assert retried == first
    racing = await asyncio.gather(*(store.append(engine, transition(CANARY, 2)) for _ in range(8)))
    assert len({r.hash for r in racing}) == 1 and racing[0].seq == 2
    next_decision = await store.append(engine, transition(CANARY, 1, token="after-status-patch"))
    assert next_decision.seq == 3, "the same transition after a new decision is a new record"
    rows = fetch(
        str(engine.url.render_as_string(hide_password=False)), f"SELECT seq FROM {TABLE} ORDER BY seq"
    )
    assert rows == [(1,), (2,), (3,)]


async def test_twenty_concurrent_appends_never_fork(engine: AsyncEngine) -> None:
    connections: list[AsyncConnection] = [await engine.connect() for _ in range(20)]
    try:
        results = await asyncio.gather(
            *(store.append(c, transition(CANARY, 1, token=f"writer-{i}")) for i, c in enumerate(connections))
        )
    finally:
        for connection in connections:
            await connection.close()
    assert sorted(r.seq for r in results) == list(range(1, 21))
    async with engine.connect() as connection:
        stored = await store.chain_for(connection, *CANARY.label.split("/"))
    assert [r.seq for r in stored] == list(range(1, 21))
    assert chain.verify(stored) is None
    assert len({r.prev_hash for r in stored}) == 20, "no two records follow the same head"


async def test_the_application_role_can_append_but_never_rewrite(app_login: str, migrated: str) -> None:
    app = create_async_engine(app_login, poolclass=NullPool)
    try:
        first = await store.append(app, transition(CANARY, 1))
        second = await store.append(app, transition(CANARY, 2))
        assert (first.seq, second.seq) == (1, 2)
        assert await store.append(app, transition(CANARY, 2)) == second
        for statement in (
            f"UPDATE {TABLE} SET message = 'edited' WHERE seq = 1",
            f"DELETE FROM {TABLE} WHERE seq = 2",
            f"TRUNCATE {TABLE}",
            f"SELECT * FROM {TABLE} FOR UPDATE",
        ):
            with pytest.raises(DBAPIError, match="permission denied"):
                execute(app_login, statement)
    finally:
        await app.dispose()
    assert fetch(migrated, f"SELECT seq, message FROM {TABLE} ORDER BY seq") == [
        (1, "weight 10%"),
        (2, "weight 20%"),
    ]


async def test_even_a_superuser_needs_the_deliberate_switch(engine: AsyncEngine, migrated: str) -> None:
    await store.append(engine, transition(CANARY, 1))
    for statement in (f"UPDATE {TABLE} SET message = 'x'", f"DELETE FROM {TABLE}", f"TRUNCATE {TABLE}"):
        with pytest.raises(DBAPIError, match="append-only"):
            execute(migrated, statement)
    assert fetch(migrated, f"SELECT count(*) FROM {TABLE}") == [(1,)]


TAMPERING = {
    "an UPDATE of one field": (
        [f"UPDATE {TABLE} SET message = 'weight 0%' WHERE object_name = 'gold-canary' AND seq = 3"],
        "Rollout/prod/gold-canary: record seq 3 was altered (hash mismatch)",
    ),
    "a deleted row": (
        [f"DELETE FROM {TABLE} WHERE object_name = 'gold-canary' AND seq = 4"],
        "Rollout/prod/gold-canary: record seq 4 is missing (deleted)",
    ),
    "two rows' seq swapped": (
        [
            f"UPDATE {TABLE} SET seq = 1000 WHERE object_name = 'gold-canary' AND seq = 5",
            f"UPDATE {TABLE} SET seq = 5 WHERE object_name = 'gold-canary' AND seq = 6",
            f"UPDATE {TABLE} SET seq = 6 WHERE object_name = 'gold-canary' AND seq = 1000",
        ],
        "Rollout/prod/gold-canary: records seq 5 and 6 are out of order",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERING))
async def test_tampering_is_detected_and_located(
    case: str, engine: AsyncEngine, migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for step in range(1, 7):
        await store.append(engine, transition(CANARY, step, at=START + timedelta(minutes=step)))
    for step in (1, 2):
        await store.append(engine, transition(LIMITS, step))
    monkeypatch.setenv("DATABASE_URL", migrated)
    runner = CliRunner()
    intact = runner.invoke(audit_app, ["verify"])
    assert (intact.exit_code, intact.output) == (0, "OK (8 records in 2 chains)\n")

    statements, expected = TAMPERING[case]
    tamper(migrated, *statements)

    async with engine.connect() as connection:
        report = await store.verify_log(connection)
    assert [c.describe() for c in report.broken] == [expected]

    whole = runner.invoke(audit_app, ["verify"])
    assert (whole.exit_code, whole.output) == (1, expected + "\n")
    one = runner.invoke(audit_app, ["verify", "--object", "Rollout/prod/gold-canary"])
    assert (one.exit_code, one.output) == (1, expected + "\n")
    other = runner.invoke(audit_app, ["verify", "--object", "RiskPolicy/prod/limits"])
    assert (other.exit_code, other.output) == (0, "OK (2 records in 1 chains)\n")


def test_verify_cli_reports_user_errors_cleanly(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    unmigrated = runner.invoke(audit_app, ["verify"])
    assert unmigrated.exit_code == 1
    assert unmigrated.output.startswith("error: ") and "tradeplane db upgrade" in unmigrated.output
    assert "Traceback" not in unmigrated.output

    migrate.upgrade(database_url)
    empty = runner.invoke(audit_app, ["verify"])
    assert (empty.exit_code, empty.output) == (0, "OK (0 records in 0 chains)\n")
    unknown = runner.invoke(audit_app, ["verify", "--object", "Rollout/prod/nothing"])
    assert (unknown.exit_code, unknown.output) == (1, "error: no audit records for Rollout/prod/nothing\n")
    malformed = runner.invoke(audit_app, ["verify", "--object", "Rollout/gold"])
    assert malformed.exit_code == 1 and "KIND/NAMESPACE/NAME" in malformed.output

    password = make_url(database_url).password
    assert not password or str(password) not in unmigrated.output
