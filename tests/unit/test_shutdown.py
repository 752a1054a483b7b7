"""SIGTERM drains a service within its time limit; a stuck one is cut off."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from services.core.shutdown import run_until_stopped

    async def main(stop: asyncio.Event) -> str:
        print("ready", flush=True)
        if sys.argv[1] == "stuck":
            await asyncio.sleep(3600)   # ignores the stop event
        await stop.wait()
        await asyncio.sleep(0.1)        # drains
        return "drained"

    print(asyncio.run(run_until_stopped(main, timeout_s=1.0)), flush=True)
    """
)


@pytest.mark.parametrize(("mode", "expected"), [("polite", "drained"), ("stuck", "None")])
def test_sigterm_stops_the_service(mode: str, expected: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, mode], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert out.strip().splitlines()[-1] == expected
