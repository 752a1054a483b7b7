"""Which database failures the services wait out, seen on a real server."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.core.errors import chain, is_data_error, is_retriable

pytestmark = pytest.mark.integration


async def _fail_inside_nested_transactions(database: str, sql: str) -> BaseException:
    conn = await asyncpg.connect(database)
    try:
        async with conn.transaction(), conn.transaction():
            await conn.execute(sql)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        failure: BaseException = exc
        return failure
    finally:
        await conn.close()
    raise AssertionError(f"{sql!r} did not fail")


async def test_a_connection_killed_mid_transaction_is_retriable(database: str) -> None:
    """The transaction's exit fails on the closed connection and hides the real cause."""
    conn = await asyncpg.connect(database)
    admin = await asyncpg.connect(database)
    pid = conn.get_server_pid()

    async def kill_when_sleeping() -> None:
        for _ in range(500):
            if await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'PgSleep'",
                pid,
            ):
                break
            await asyncio.sleep(0.02)
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)

    killer = asyncio.create_task(kill_when_sleeping())
    try:
        with pytest.raises(Exception) as caught:
            async with conn.transaction(), conn.transaction():
                await conn.execute("SELECT pg_sleep(30)")
        await killer
    finally:
        killer.cancel()
        await admin.close()
        await conn.close()
    exc = caught.value
    # What surfaces is not the connection error itself …
    assert isinstance(exc, asyncpg.InterfaceError), repr(exc)
    # … which is found down the chain, and the whole is waited out.
    assert any(isinstance(e, asyncpg.PostgresConnectionError) for e in chain(exc))
    assert is_retriable(exc)
    assert not is_data_error(exc)


async def test_bad_values_and_bad_sql_are_not_waited_out(database: str) -> None:
    bad_value = await _fail_inside_nested_transactions(database, "SELECT 1 / 0")
    assert is_data_error(bad_value) and not is_retriable(bad_value)
    missing_table = await _fail_inside_nested_transactions(database, "SELECT * FROM no_such")
    assert not is_data_error(missing_table) and not is_retriable(missing_table)


async def test_a_read_only_server_is_waited_out(database: str) -> None:
    exc = await _fail_inside_nested_transactions(
        database, "SET TRANSACTION READ ONLY; CREATE TABLE t (x int)"
    )
    assert getattr(exc, "sqlstate", None) == "25006" and is_retriable(exc)
