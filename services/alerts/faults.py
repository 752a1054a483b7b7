"""A crash point for failure tests: SIGKILL this process right after a commit, before the send.

Set ``PACKWATCH_ALERTS_FAULT_KILL_AFTER_COMMITS=N`` and the process kills
itself after its N-th committed batch that produced alert changes, before the
relay has published them: the exact window a transactional outbox exists to
survive. It is refused in production (see :func:`check_allowed`).
"""

from __future__ import annotations

import os
import signal


class CrashPoint:
    """Kills the process on the ``every``-th :meth:`committed` call (0 = never)."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.count = 0

    def committed(self) -> None:
        if not self.every:
            return
        self.count += 1
        if self.count >= self.every:
            os.kill(os.getpid(), signal.SIGKILL)


def check_allowed(every: int, environment: str) -> None:
    """Refuse the crash point in production."""
    if every and environment == "production":
        raise ValueError("fault_kill_after_commits is for tests; it is refused in production")
