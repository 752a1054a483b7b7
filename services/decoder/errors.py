"""Errors of the decoder service.

    DecoderError
    └── ProduceFailed        the broker refused our output too many times in a row
    DlqLimitExceeded         (services.ingest.errors) too many rejects: stop loudly

Bad input is not an error here: it becomes a dead letter. A broker outage is
not one either until it outlasts ``max_produce_failures`` rounds; until then
the service rewinds to its committed offsets and produces again.
"""

from __future__ import annotations

from services.ingest.errors import DlqLimitExceeded

__all__ = ["DecoderError", "DlqLimitExceeded", "ProduceFailed"]


class DecoderError(RuntimeError):
    """Base of the decoder service's own errors."""


class ProduceFailed(DecoderError):
    """Output could not be acknowledged; offsets stay uncommitted for the next run."""
