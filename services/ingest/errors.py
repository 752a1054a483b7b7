"""Errors of the ingest service.

    IngestError
    ├── DlqLimitExceeded     too many rejects: a bad deploy upstream; stop loudly
    └── WriteAbandoned       shutdown came while the database was still unreachable

Database and broker outages are not errors here: the writer waits and retries
(:func:`services.core.errors.is_retriable`), and nothing goes to the
dead-letter topic for them.
"""

from __future__ import annotations

__all__ = ["DlqLimitExceeded", "IngestError", "WriteAbandoned"]


class IngestError(RuntimeError):
    """Base of the ingest service's own errors."""


class DlqLimitExceeded(IngestError):
    """The share of rejected messages passed the configured limit."""


class WriteAbandoned(IngestError):
    """A batch could not be written before shutdown; its offsets stay uncommitted."""
