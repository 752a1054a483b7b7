"""Errors of the alerts service.

    AlertsError
    └── DeliveryError            a notification was not delivered
        └── PermanentDelivery    the receiver refused it for good (4xx): no retry

Database and broker outages are not errors here: each loop waits and retries
(:func:`is_retriable`). A delivery failure is retried with backoff until the
route's attempts run out, then the notification is left ``dead`` for people
to see.
"""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaError, KafkaTimeoutError


class AlertsError(RuntimeError):
    """Base of the alerts service's own errors."""


class DeliveryError(AlertsError):
    """A notification was not delivered this time."""


class PermanentDelivery(DeliveryError):
    """The receiver refused the notification in a way a retry will not change."""


# SQLSTATE classes about the server or connection, not the data (see ingest).
RETRIABLE_SQLSTATE_CLASSES = frozenset({"08", "53", "57", "58", "40"})


def is_retriable(exc: BaseException) -> bool:
    """True when ``exc`` is an infrastructure failure worth waiting out."""
    if isinstance(exc, (OSError, TimeoutError, ConnectionError)):
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        return (getattr(exc, "sqlstate", None) or "")[:2] in RETRIABLE_SQLSTATE_CLASSES
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False)) or isinstance(exc, KafkaTimeoutError)
    return False
