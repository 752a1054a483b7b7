"""Admin commands (``alert-routes``, ``alert-notifications``, ``token``): run one, print its lines.

An admin command connects to the configured database, does one thing and
returns ``(exit code, lines)``. When the database keeps it from doing that
(not reachable, login refused, no such database, not migrated) the user gets
one line saying what to do, and exit code 2, instead of a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

import asyncpg

AdminCommand = Coroutine[Any, Any, tuple[int, list[str]]]


def db_problem(exc: BaseException) -> str | None:
    """What to tell the user when ``exc`` kept an admin command from the database;
    None when ``exc`` is some other failure."""
    if isinstance(exc, asyncpg.UndefinedTableError):
        return f"{exc}: the database is not migrated; run `packwatch db migrate`"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return f"{exc}: check DATABASE_URL, or create the database"
    if isinstance(
        exc, asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError
    ):
        return f"the database refused the login ({exc}); check DATABASE_URL"
    if isinstance(exc, OSError | TimeoutError):
        return (
            f"cannot reach the database ({exc or type(exc).__name__}); is it running, and is "
            "DATABASE_URL right? (`packwatch infra up` starts the local one)"
        )
    return None


def run_admin(command: AdminCommand) -> int:
    """Run ``command``; its lines go to stdout, or to stderr when it fails."""
    try:
        code, lines = asyncio.run(command)
    except Exception as exc:
        why = db_problem(exc)
        if why is None:
            raise
        print(f"packwatch: {why}", file=sys.stderr)
        return 2
    for line in lines:
        print(line, file=sys.stderr if code else sys.stdout)
    return code
