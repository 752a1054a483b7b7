"""The two-task shape of a stream service: a reader feeding one sink through a queue."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any


async def run_reader_and_sink(
    reader: Coroutine[Any, Any, None],
    sink: Coroutine[Any, Any, None],
    close_sink: Callable[[], Awaitable[None]],
    name: str,
) -> None:
    """Run both until the reader returns, then let the sink drain and end.

    ``close_sink`` tells the sink that nothing more comes (e.g. queues a
    sentinel). The sink only ends early by raising, which is re-raised here; on
    any exit both tasks are cancelled and awaited, so none outlives the call.
    """
    sink_task = asyncio.create_task(sink, name=f"{name}-sink")
    reader_task = asyncio.create_task(reader, name=f"{name}-reader")
    try:
        done, _ = await asyncio.wait({reader_task, sink_task}, return_when=asyncio.FIRST_COMPLETED)
        if sink_task in done:
            sink_task.result()
        reader_task.result()
        await close_sink()
        await sink_task
    finally:
        for task in (reader_task, sink_task):
            if not task.done():
                task.cancel()
        await asyncio.gather(reader_task, sink_task, return_exceptions=True)
