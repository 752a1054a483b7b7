"""The start gate of ``packwatch ingest --workers N``: the workers join the group together.

A worker that joins the consumer group alone takes every partition; one that
joins a moment later starts a rebalance, which the first worker notices only
at its next heartbeat (seconds), and then it first writes out what it read.
Started one after the other (start-up takes a second or two), N workers would
spend their first seconds as one worker, and on a backlog (a restart after an
outage) the first worker would also end with most of it. A broker with
Kafka's default ``group.initial.rebalance.delay.ms`` (3 s) hides some of this
for a group that was empty; the local stack sets it to 0 (tests form groups
at once), and a start-up slower than the delay is not covered either way.

So each worker opens its database pool, loads the registry and opens its
producer, reports ready, and waits; the supervisor opens the gate when every
worker is ready (or after ``timeout_s``, when one has exited, or on a
signal), and they all join at once.

Two pipes: every worker holds the write end of *ready* (one byte: "I am
ready") and the read end of *go*; the supervisor closes its end of *go* to
open the gate (every worker reads end-of-file at once). A worker that dies
closes its ends with it, and so does a supervisor that dies: nothing waits on
a dead process.
"""

from __future__ import annotations

import os
import select
import stat
import time
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

#: Environment variable that hands a worker its two ends: "<ready write fd>,<go read fd>".
START_GATE_ENV = "PACKWATCH_INGEST_START_GATE"
#: How long the supervisor waits for every worker to be ready before it opens anyway.
DEFAULT_TIMEOUT_S = 30.0


class StartGate:
    """The supervisor's side: make the pipes, hand them to the workers, open the gate."""

    def __init__(self) -> None:
        self._ready_r, self._ready_w = os.pipe()
        self._go_r, self._go_w = os.pipe()
        self.ready = 0  # workers that reported ready

    @property
    def worker_fds(self) -> tuple[int, int]:
        """The descriptors a worker inherits (``pass_fds``)."""
        return self._ready_w, self._go_r

    @property
    def worker_env(self) -> dict[str, str]:
        return {START_GATE_ENV: f"{self._ready_w},{self._go_r}"}

    def _close(self, *attrs: str) -> None:
        for attr in attrs:
            fd = getattr(self, attr)
            if fd >= 0:
                os.close(fd)
                setattr(self, attr, -1)

    def workers_started(self) -> None:
        """Drop the supervisor's copies of the workers' ends (after every worker started):
        end-of-file on *ready* then means every worker has reported or exited."""
        self._close("_ready_w", "_go_r")

    def wait_for(self, workers: int, *, timeout_s: float, keep_waiting: Callable[[], bool]) -> int:
        """Wait until ``workers`` are ready, ``timeout_s`` passes, every worker's end is
        closed, or ``keep_waiting()`` is False (checked every 0.2 s). Returns how many
        workers are ready; :meth:`open` lets them go."""
        deadline = time.monotonic() + timeout_s
        while self.ready < workers and keep_waiting():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            readable, _, _ = select.select([self._ready_r], [], [], min(left, 0.2))
            if readable:
                got = os.read(self._ready_r, workers)
                if not got:
                    break  # every worker has reported and closed, or exited
                self.ready += len(got)
        return self.ready

    def open(self) -> None:
        """Let every worker through; release every descriptor (idempotent)."""
        self._close("_go_w", "_ready_r", "_ready_w", "_go_r")


def _gate_fds(env: MutableMapping[str, str]) -> tuple[int, int] | None:
    """This process's two ends, taken out of ``env`` (once): None without a gate, or
    when the descriptors named there are not pipes of this process."""
    spec = env.pop(START_GATE_ENV, None)
    if not spec:
        return None
    try:
        ready_fd, go_fd = (int(part) for part in spec.split(","))
        if not all(stat.S_ISFIFO(os.fstat(fd).st_mode) for fd in (ready_fd, go_fd)):
            return None
    except (ValueError, OSError):
        return None
    return ready_fd, go_fd


async def pass_start_gate(stop: asyncio.Event, env: MutableMapping[str, str] | None = None) -> bool:
    """The worker's side: report ready, then wait until the gate opens or ``stop`` is set.

    ``env`` is the process environment unless given; the gate's variable is
    removed from it, so the gate is passed once. Returns True when the gate
    opened, False without a gate (a single worker, or ``python -m
    services.ingest`` on its own) or when ``stop`` came first.
    """
    import asyncio

    fds = _gate_fds(os.environ if env is None else env)
    if fds is None:
        return False
    ready_fd, go_fd = fds
    try:
        os.write(ready_fd, b"r")
    except BrokenPipeError:
        pass  # the supervisor stopped waiting already: the gate is open
    finally:
        os.close(ready_fd)
    loop = asyncio.get_running_loop()
    opened: asyncio.Future[Any] = loop.create_future()

    def on_readable() -> None:  # end-of-file: the supervisor closed its end
        if not opened.done():
            opened.set_result(None)

    loop.add_reader(go_fd, on_readable)
    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({opened, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        loop.remove_reader(go_fd)
        os.close(go_fd)
    return opened.done()
