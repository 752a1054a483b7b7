"""Readiness checks: named async callables that say whether a dependency answers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Check = Callable[[], Awaitable[bool]]


class Health:
    """A set of named readiness checks, each bounded in time."""

    def __init__(self, timeout_s: float = 2.0) -> None:
        self._checks: dict[str, Check] = {}
        self._timeout = timeout_s

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    async def check(self) -> dict[str, bool]:
        """Run every check; a check that raises or times out counts as failed."""
        results: dict[str, bool] = {}
        for name, check in self._checks.items():
            try:
                results[name] = bool(await asyncio.wait_for(check(), self._timeout))
            except (TimeoutError, OSError, RuntimeError, ConnectionError):
                results[name] = False
            except Exception:  # noqa: BLE001 - a failing dependency must not break readiness
                results[name] = False
        return results
