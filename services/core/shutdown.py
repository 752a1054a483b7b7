"""Graceful shutdown: SIGTERM/SIGINT set an event; work drains within a time limit."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import structlog

log = structlog.get_logger(__name__)
T = TypeVar("T")


def install_stop_event(loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Event:
    """An event set by the first SIGTERM or SIGINT; a second one exits at once."""
    loop = loop or asyncio.get_running_loop()
    stop = asyncio.Event()

    def _on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            log.warning("second_signal_exiting_now", signal=sig.name)
            raise SystemExit(128 + sig.value)
        log.info("shutdown_requested", signal=sig.name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_signal, sig)
    return stop


async def run_until_stopped(
    main: Callable[[asyncio.Event], Coroutine[Any, Any, T]], *, timeout_s: float
) -> T | None:
    """Run ``main(stop)``; after ``stop`` is set, allow it ``timeout_s`` to finish.

    ``main`` should watch the event and return when it is set. If it does not
    finish in time it is cancelled, so a stuck dependency cannot hold the
    process past its orchestrator's kill deadline.
    """
    stop = install_stop_event()
    task: asyncio.Task[T] = asyncio.create_task(main(stop))
    stop_wait = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        stop_wait.cancel()
        return task.result()
    try:
        return await asyncio.wait_for(task, timeout_s)
    except TimeoutError:
        log.error("shutdown_timeout", timeout_s=timeout_s)  # noqa: TRY400 - no traceback to show
        return None
