"""Which failures are the infrastructure's (wait them out) and which are not.

Every service that writes to PostgreSQL or talks to Kafka retries the first
kind with backoff (:func:`with_retries`, or a loop of its own where it counts
or reports an outage its own way) and stops loudly on the rest. One rule for
all of them:

* an ``OSError`` / ``TimeoutError`` (refused, reset, unreachable);
* a PostgreSQL error of a class about the server or the connection, not the
  data: 08 connection, 53 insufficient resources, 57 operator intervention
  (restart, shutdown), 58 system error, 40 transaction rollback (deadlock,
  serialization); and two single states: a read-only standby after a failover
  (25006) and a lock not had in time (55P03);
* an asyncpg ``InterfaceError`` saying the connection is closed;
* a Kafka error the client marks retriable, or a Kafka timeout.

The whole chain of an exception counts (``__cause__`` and ``__context__``).
When a connection dies inside ``async with conn.transaction()``, the
transaction's exit fails on the closed connection and its ``InterfaceError``
replaces the real cause (``ConnectionDoesNotExistError``, SQLSTATE 08003),
which stays reachable only as its context.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import structlog
from aiokafka.errors import KafkaError, KafkaTimeoutError

RETRIABLE_SQLSTATE_CLASSES = frozenset({"08", "53", "57", "58", "40"})
RETRIABLE_SQLSTATES = frozenset({"25006", "55P03"})
# Classes that blame a row: 22 data exception, 23 integrity constraint.
DATA_SQLSTATE_CLASSES = frozenset({"22", "23"})

_CHAIN_LIMIT = 16
T = TypeVar("T")
log = structlog.get_logger(__name__)


def _sqlstate(exc: BaseException) -> str:
    return getattr(exc, "sqlstate", None) or ""


def _retriable_alone(exc: BaseException) -> bool:
    if isinstance(exc, (OSError, TimeoutError)):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = _sqlstate(exc)
        return state[:2] in RETRIABLE_SQLSTATE_CLASSES or state in RETRIABLE_SQLSTATES
    if isinstance(exc, asyncpg.InterfaceError):
        return "connection is closed" in str(exc)
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False)) or isinstance(exc, KafkaTimeoutError)
    return False


def chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling, nearest first."""
    seen: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in seen and len(seen) < _CHAIN_LIMIT:
        seen.append(link)
        link = link.__cause__ or link.__context__
    return seen


def is_retriable(exc: BaseException) -> bool:
    """True when ``exc`` is an infrastructure failure worth waiting out."""
    return any(_retriable_alone(link) for link in chain(exc))


def is_data_error(exc: BaseException) -> bool:
    """True when the database refused a row's values (the row, not the database, is at fault).

    Anything else that is not retriable (permissions, a missing table, a drifted
    schema) should stop a service loudly rather than dead-letter the stream.
    """
    return isinstance(exc, asyncpg.PostgresError) and _sqlstate(exc)[:2] in DATA_SQLSTATE_CLASSES


async def with_retries(
    op: Callable[[], Awaitable[T]],
    *,
    what: str,
    stopping: Callable[[], bool],
    retry_initial_s: float = 0.2,
    retry_max_s: float = 5.0,
) -> T:
    """``await op()``, again with back-off after transient failures until ``stopping()``."""
    delay = retry_initial_s
    while True:
        try:
            return await op()
        except Exception as exc:
            if not is_retriable(exc) or stopping():
                raise
            log.warning(f"{what}_retry", error=repr(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, retry_max_s)
