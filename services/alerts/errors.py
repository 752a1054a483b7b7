"""Errors of the alerts service.

    AlertsError
    └── DeliveryError            a notification was not delivered
        └── PermanentDelivery    the receiver refused it for good (4xx): no retry

Database and broker outages are not errors here: each loop waits and retries
(:func:`services.core.errors.is_retriable`). A delivery failure is retried with
backoff until the route's attempts run out, then the notification is left
``dead`` for people to see.
"""

from __future__ import annotations

__all__ = ["AlertsError", "DeliveryError", "PermanentDelivery"]


class AlertsError(RuntimeError):
    """Base of the alerts service's own errors."""


class DeliveryError(AlertsError):
    """A notification was not delivered this time."""


class PermanentDelivery(DeliveryError):
    """The receiver refused the notification in a way a retry will not change."""
