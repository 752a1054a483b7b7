"""with_retries waits out infrastructure failures with back-off and stops on the rest."""

from __future__ import annotations

import asyncio

import pytest

from services.core.errors import with_retries


class _Flaky:
    """Fails with ``exc`` ``times`` times, then returns how many calls it took."""

    def __init__(self, exc: BaseException, times: int) -> None:
        self.exc, self.times, self.calls = exc, times, 0

    async def __call__(self) -> int:
        self.calls += 1
        if self.calls <= self.times:
            raise self.exc
        return self.calls


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The back-off waits, recorded instead of slept."""
    seen: list[float] = []

    async def sleep(delay: float) -> None:
        seen.append(delay)

    monkeypatch.setattr(asyncio, "sleep", sleep)  # with_retries waits with asyncio.sleep
    return seen


def test_a_retriable_failure_is_waited_out_with_doubling_capped_waits(waits: list[float]) -> None:
    op = _Flaky(ConnectionResetError("reset by peer"), times=5)
    got = asyncio.run(
        with_retries(op, what="t", stopping=lambda: False, retry_initial_s=0.2, retry_max_s=1.0)
    )
    assert got == 6
    assert waits == [0.2, 0.4, 0.8, 1.0, 1.0]


def test_a_failure_that_is_not_the_infrastructures_is_raised_at_once(waits: list[float]) -> None:
    op = _Flaky(ValueError("bad row"), times=1)
    with pytest.raises(ValueError, match="bad row"):
        asyncio.run(with_retries(op, what="t", stopping=lambda: False))
    assert (op.calls, waits) == (1, [])


def test_a_retriable_failure_while_stopping_is_raised(waits: list[float]) -> None:
    op = _Flaky(TimeoutError("no answer"), times=3)
    stopping = iter([False, True])
    with pytest.raises(TimeoutError):
        asyncio.run(with_retries(op, what="t", stopping=lambda: next(stopping)))
    assert op.calls == 2 and len(waits) == 1
