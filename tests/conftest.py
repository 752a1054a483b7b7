"""Session fixtures: the real Kafka broker and PostgreSQL server, started once.

The test session runs its own stack (state under ``.packwatch/test``, ports
29092/29093/25432), so it never disturbs a ``make run`` on the same machine.
Set ``PACKWATCH_TEST_KAFKA_BOOTSTRAP_SERVERS`` or ``PACKWATCH_TEST_DATABASE_URL``
to run the suite against servers of your own instead.

Each test gets fresh topics (:func:`new_topic`) and a fresh database
(:func:`database`), so tests cannot leak into each other.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.core.settings import PROJECT_ROOT
from services.stack import kafka, postgres

TEST_STATE = Path(os.environ.get("PACKWATCH_TEST_STATE_DIR", PROJECT_ROOT / ".packwatch" / "test"))
CACHE = PROJECT_ROOT / ".cache"
KAFKA_PORT = int(os.environ.get("PACKWATCH_TEST_KAFKA_PORT", "29092"))
PG_PORT = int(os.environ.get("PACKWATCH_TEST_PG_PORT", "25432"))


KAFKA_CONFIG = kafka.KafkaConfig(
    state_dir=TEST_STATE,
    cache_dir=CACHE,
    port=KAFKA_PORT,
    controller_port=KAFKA_PORT + 1,
    heap="768m",
)
PG_CONFIG = postgres.PostgresConfig(state_dir=TEST_STATE, port=PG_PORT)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap address of a running broker; started for the session if needed."""
    external = os.environ.get("PACKWATCH_TEST_KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    cfg = KAFKA_CONFIG
    started = kafka.start(cfg)
    try:
        yield cfg.bootstrap
    finally:
        if started:
            kafka.stop(cfg)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """DSN of the server's maintenance database; server started for the session if needed."""
    external = os.environ.get("PACKWATCH_TEST_DATABASE_URL")
    if external:
        yield external
        return
    cfg = PG_CONFIG
    started = postgres.start(cfg)
    try:
        yield cfg.dsn("postgres")
    finally:
        if started:
            postgres.stop(cfg)


def _with_database(dsn: str, name: str) -> str:
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
async def database(pg_server: str) -> AsyncIterator[str]:
    """A fresh, empty database for one test; dropped afterwards. Yields its DSN."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(pg_server)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield _with_database(pg_server, name)
    finally:
        conn = await asyncpg.connect(pg_server)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


NewTopicFactory = Callable[..., Awaitable[str]]


@pytest.fixture
async def new_topic(kafka_bootstrap: str) -> AsyncIterator[NewTopicFactory]:
    """Create uniquely named topics for one test; deleted afterwards."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=30000)
    await admin.start()
    created: list[str] = []

    async def make(prefix: str = "t", partitions: int = 3) -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:10]}"
        await admin.create_topics(
            [NewTopic(name=name, num_partitions=partitions, replication_factor=1)]
        )
        created.append(name)
        return name

    try:
        yield make
    finally:
        if created:
            await admin.delete_topics(created)
        await admin.close()


@pytest.fixture
def local_servers(
    kafka_bootstrap: str, pg_server: str
) -> tuple[kafka.KafkaConfig, postgres.PostgresConfig]:
    """The session's own broker and database, for tests that stop and restart them.

    Such tests need servers this session controls; with external servers set
    they fail with this message rather than pass without testing anything.
    """
    if os.environ.get("PACKWATCH_TEST_KAFKA_BOOTSTRAP_SERVERS") or os.environ.get(
        "PACKWATCH_TEST_DATABASE_URL"
    ):
        pytest.fail("restart tests need the session's own local broker and database")
    return KAFKA_CONFIG, PG_CONFIG


@pytest.fixture(scope="session")
def timescale_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """DSN of a fresh TimescaleDB compatibility target (TimescaleDB 2.23 in WebAssembly).

    One connection at a time and no COPY: for DDL and query checks. Connect with
    ``statement_cache_size=0`` (clients share one backend).
    """
    from services.stack import timescale_compat

    state = tmp_path_factory.mktemp("timescale")
    port = int(os.environ.get("PACKWATCH_TEST_TIMESCALE_PORT", str(PG_PORT + 1)))
    timescale_compat.start(state, port, PROJECT_ROOT)
    try:
        yield timescale_compat.dsn(port)
    finally:
        timescale_compat.stop(state)
