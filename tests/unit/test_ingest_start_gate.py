"""The start gate of `packwatch ingest --workers N`: the workers join the group together.

The supervisor's side runs in a thread, as in the supervisor process; each
"worker" is a task with its own copies of the pipe ends, as a child process
would inherit them.
"""

from __future__ import annotations

import asyncio
import os
import threading

from services.ingest.start_gate import START_GATE_ENV, StartGate, pass_start_gate


def _worker_envs(gate: StartGate, n: int) -> list[dict[str, str]]:
    """What ``n`` workers inherit (their own descriptors); then the supervisor drops its copies."""
    ready_w, go_r = gate.worker_fds
    envs = [{START_GATE_ENV: f"{os.dup(ready_w)},{os.dup(go_r)}"} for _ in range(n)]
    gate.workers_started()
    return envs


def _supervise(gate: StartGate, workers: int, timeout_s: float, result: list[int]) -> None:
    try:
        result.append(gate.wait_for(workers, timeout_s=timeout_s, keep_waiting=lambda: True))
    finally:
        gate.open()


def _supervisor(
    gate: StartGate, workers: int, timeout_s: float, result: list[int]
) -> threading.Thread:
    thread = threading.Thread(
        target=_supervise, args=(gate, workers, timeout_s, result), daemon=True
    )
    thread.start()
    return thread


async def test_no_worker_passes_before_every_worker_is_ready() -> None:
    gate = StartGate()
    first_env, second_env = _worker_envs(gate, 2)
    ready: list[int] = []
    supervisor = _supervisor(gate, 2, 10.0, ready)
    stop = asyncio.Event()
    first = asyncio.create_task(pass_start_gate(stop, first_env))
    await asyncio.sleep(0.3)
    assert not first.done()  # ready, and waiting for the other worker
    second = asyncio.create_task(pass_start_gate(stop, second_env))
    assert list(await asyncio.wait_for(asyncio.gather(first, second), 10)) == [True, True]
    await asyncio.to_thread(supervisor.join, 10)
    assert ready == [2]


async def test_the_gate_opens_after_the_timeout_when_a_worker_never_gets_ready() -> None:
    gate = StartGate()
    env, stuck = _worker_envs(gate, 2)  # `stuck` starts up but never reports
    ready: list[int] = []
    supervisor = _supervisor(gate, 2, 0.5, ready)
    assert await asyncio.wait_for(pass_start_gate(asyncio.Event(), env), 10) is True
    await asyncio.to_thread(supervisor.join, 10)
    assert ready == [1]
    for fd in stuck[START_GATE_ENV].split(","):
        os.close(int(fd))


async def test_the_gate_opens_at_once_when_every_worker_has_gone() -> None:
    gate = StartGate()
    for env in _worker_envs(gate, 2):  # both exit before reporting: their ends close
        for fd in env[START_GATE_ENV].split(","):
            os.close(int(fd))
    assert gate.wait_for(2, timeout_s=30.0, keep_waiting=lambda: True) == 0
    gate.open()


async def test_the_supervisor_stops_waiting_when_told_to() -> None:
    gate = StartGate()
    (env,) = _worker_envs(gate, 1)
    assert gate.wait_for(1, timeout_s=30.0, keep_waiting=lambda: False) == 0
    gate.open()
    # The gate is open: a late worker passes straight through.
    assert await asyncio.wait_for(pass_start_gate(asyncio.Event(), env), 10) is True


async def test_a_waiting_worker_returns_when_it_is_stopped() -> None:
    gate = StartGate()
    (env,) = _worker_envs(gate, 1)
    stop = asyncio.Event()
    waiting = asyncio.create_task(pass_start_gate(stop, env))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    stop.set()
    assert await asyncio.wait_for(waiting, 10) is False  # stopped, not let through
    gate.open()
    gate.open()  # idempotent


async def test_a_worker_without_a_gate_starts_at_once() -> None:
    assert await pass_start_gate(asyncio.Event(), {}) is False


async def test_the_gate_is_passed_once_and_only_through_pipes() -> None:
    gate = StartGate()
    (env,) = _worker_envs(gate, 1)
    gate.open()
    assert await asyncio.wait_for(pass_start_gate(asyncio.Event(), env), 10) is True
    assert START_GATE_ENV not in env  # a second pass (or a child) finds no gate
    assert await pass_start_gate(asyncio.Event(), env) is False
    fd = os.open(os.devnull, os.O_RDONLY)
    try:
        for spec in (f"{fd},{fd}", "3", "x,y", "99999,99998"):
            assert await pass_start_gate(asyncio.Event(), {START_GATE_ENV: spec}) is False
        os.fstat(fd)  # left open: not the gate's to close
    finally:
        os.close(fd)
