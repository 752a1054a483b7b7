"""Errors of the ingest service.

    IngestError
    ├── DlqLimitExceeded     too many rejects: a bad deploy upstream; stop loudly
    └── WriteAbandoned       shutdown came while the database was still unreachable

Database and broker outages are not errors here: the writer waits and retries
(:func:`is_retriable`), and nothing goes to the dead-letter topic for them.
"""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaError, KafkaTimeoutError


class IngestError(RuntimeError):
    """Base of the ingest service's own errors."""


class DlqLimitExceeded(IngestError):
    """The share of rejected messages passed the configured limit."""


class WriteAbandoned(IngestError):
    """A batch could not be written before shutdown; its offsets stay uncommitted."""


# SQLSTATE classes that describe the server or the connection, not the data:
# 08 connection, 53 insufficient resources, 57 operator intervention (restart,
# shutdown), 58 system error, 40 transaction rollback (deadlock, serialization).
RETRIABLE_SQLSTATE_CLASSES = frozenset({"08", "53", "57", "58", "40"})
# Single states worth waiting out too: a read-only standby after a failover
# (25006) and a lock that could not be had in time (55P03).
RETRIABLE_SQLSTATES = frozenset({"25006", "55P03"})
# Classes that blame a row: 22 data exception, 23 integrity constraint.
DATA_SQLSTATE_CLASSES = frozenset({"22", "23"})


def is_retriable(exc: BaseException) -> bool:
    """True when ``exc`` is an infrastructure failure worth waiting out."""
    if isinstance(exc, (OSError, TimeoutError, ConnectionError)):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        return state[:2] in RETRIABLE_SQLSTATE_CLASSES or state in RETRIABLE_SQLSTATES
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False)) or isinstance(exc, KafkaTimeoutError)
    return False


def is_data_error(exc: BaseException) -> bool:
    """True when the database refused a row's values (the row, not the database, is at fault).

    Anything else that is not retriable (permissions, a missing table, a drifted
    schema) stops the service loudly rather than dead-lettering the stream.
    """
    if not isinstance(exc, asyncpg.PostgresError):
        return False
    return (getattr(exc, "sqlstate", None) or "")[:2] in DATA_SQLSTATE_CLASSES
