"""What every streaming service's command does around the service."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from services.core.service_cli import GC_THRESHOLDS, run_service
from services.core.settings import CoreSettings


@pytest.fixture
def restored_gc() -> Iterator[None]:
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


class Fatal(RuntimeError):
    pass


def test_a_service_runs_with_the_streaming_gc_thresholds_and_its_start_frozen(
    restored_gc: None,
) -> None:
    seen: dict[str, object] = {}

    async def main(stop: asyncio.Event) -> None:
        seen["threshold"] = gc.get_threshold()
        seen["frozen"] = gc.get_freeze_count()
        raise Fatal("done")

    code = run_service(CoreSettings(), main, {Fatal: (3, "fatal_for_the_test")})
    assert code == 3  # the fatal error's mapped exit code
    assert seen["threshold"] == GC_THRESHOLDS
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 0
