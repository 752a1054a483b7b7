"""Errors of the scoring service.

::

    ScoringError
    └── ModelsUnavailable   the model files are missing or do not match the code
"""

from __future__ import annotations


class ScoringError(Exception):
    """Base of the scoring service's errors."""


class ModelsUnavailable(ScoringError):
    """The shipped model files cannot be loaded."""
